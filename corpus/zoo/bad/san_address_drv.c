/* san_address_drv: a numeric command parser.
 *
 * Each command is a decimal number in text ("1234"); the driver parses it
 * with strtol and answers with the number doubled, as text. Bytes that are
 * not a number give "nan".
 *
 * DEFECT (san.address): to NUL-terminate the command for strtol it is
 * copied into malloc(len) and buf[len] = '\0' is written one byte past the
 * end of the block (heap buffer overflow). The block needs len + 1 bytes.
 * Built with AddressSanitizer, the write is reported at once.
 */
#include <erl_driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ErlDrvData nm_start(ErlDrvPort port, char *command) {
  (void)command;
  return (ErlDrvData)port;
}

static void nm_output(ErlDrvData d, char *buf, ErlDrvSizeT len) {
  ErlDrvPort port = (ErlDrvPort)d;
  char *text = malloc(len ? len : 1);
  char out[32];
  if (!text)
    return;
  memcpy(text, buf, len);
  text[len] = '\0'; /* the defect: one byte past the block */
  char *end;
  long v = strtol(text, &end, 10);
  int n = (end == text || *end) ? snprintf(out, sizeof out, "nan")
                                : snprintf(out, sizeof out, "%ld", v * 2);
  free(text);
  driver_output(port, out, (ErlDrvSizeT)n);
}

static ErlDrvEntry nm_entry = {
    .start = nm_start,
    .output = nm_output,
    .driver_name = "san_address_drv",
    .extended_marker = ERL_DRV_EXTENDED_MARKER,
    .major_version = ERL_DRV_EXTENDED_MAJOR_VERSION,
    .minor_version = ERL_DRV_EXTENDED_MINOR_VERSION,
};

DRIVER_INIT(san_address_drv) { return &nm_entry; }
