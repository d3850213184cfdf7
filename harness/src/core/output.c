/* The output family: driver_output, driver_output2, driver_output_binary,
 * driver_outputv, driver_vec_to_buf.
 *
 * Every function sends {Port,{data,Data}} to the port owner. Facts checked on
 * OTP 25 with a probe driver (and in io.c driver_output2, driver_outputv,
 * deliver_read_message, deliver_vec_message):
 *  - list mode: Data is one flat byte list, header bytes first;
 *  - binary mode: the header bytes are list elements in front, then one
 *    binary per I/O vector entry, the last one as the list tail:
 *    [H1,..,Hn, <<B1>>, .. | <<Bm>>]; a single entry without header is the
 *    plain binary; empty entries are kept as <<>> (only driver_outputv drops
 *    a zero-length first entry, the emulator's iov[0] placeholder);
 *  - a NULL data buffer gives no binary at all: {data, Header} or {data,[]};
 *  - CLOSING port (flush pending): dropped, return 0; dead port: -1;
 *  - EXITING port (inside stop): still delivered. */
#include <string.h>

#include "internal.h"

#define SITE __builtin_return_address(0)

/* Recording the message copies its bytes once (trace.c): for ordinary
 * sizes that costs less than ERTS's own copy and stays in the callback's
 * time, as ERTS's does; only big outputs are excluded from cb.lengthy (the
 * bracket itself costs two clock reads, more than a small copy). */
#define BIG_OUTPUT ((size_t)64 << 10)

int dc__deliver_data(dc__port *p, const char *hbuf, size_t hlen,
                     const SysIOVec *segs, int nsegs) {
  if (!p)
    return -1;
  if (!hbuf)
    hlen = 0;
  if (!dc__proc_alive(p->owner))
    return 0; /* nobody to receive it: ERTS drops it silently */
  size_t bytes = hlen;
  for (int i = 0; i < nsegs; i++)
    bytes += segs[i].iov_len;
  int big = bytes > BIG_OUTPUT;
  long ovh = big ? dc__overhead_begin() : -1;
  int r = dc__trace_port_data(p->owner, p->id, p->flags & PORT_FLAG_BINARY,
                              hbuf, hlen, segs, nsegs);
  if (big)
    dc__overhead_end(&ovh);
  return r;
}

/* The port behind a handle if output may go to it: NULL for an invalid
 * port (-1), *drop set for a CLOSING one (0, nothing sent). */
static dc__port *output_port(dc__api api, ErlDrvPort port, int *drop,
                             const void *site) {
  dc__port *p = dc__api_port(api, port, site);
  *drop = p && atomic_load(&p->state) == DC__PORT_CLOSING;
  return p;
}

/* driver_output2 for an entry already checked (p from output_port). */
static int output2(dc__port *p, int drop, char *hbuf, ErlDrvSizeT hlen,
                   char *buf, ErlDrvSizeT len) {
  if (!p)
    return -1;
  if (drop)
    return 0;
  SysIOVec seg;
  seg.iov_base = buf;
  seg.iov_len = len;
  dc__deliver_data(p, hbuf, hlen, &seg, buf ? 1 : 0);
  return 0;
}

int driver_output2(ErlDrvPort port, char *hbuf, ErlDrvSizeT hlen, char *buf,
                   ErlDrvSizeT len) {
  int drop;
  dc__port *p = output_port(DC__API_driver_output2, port, &drop, SITE);
  return output2(p, drop, hbuf, hlen, buf, len);
}

int driver_output(ErlDrvPort port, char *buf, ErlDrvSizeT len) {
  int drop;
  dc__port *p = output_port(DC__API_driver_output, port, &drop, SITE);
  return output2(p, drop, NULL, 0, buf, len);
}

int driver_output_binary(ErlDrvPort port, char *hbuf, ErlDrvSizeT hlen,
                         ErlDrvBinary *bin, ErlDrvSizeT offset,
                         ErlDrvSizeT len) {
  DC__OVERHEAD(); /* checksum of the shared bytes: harness-only cost */
  int drop;
  dc__port *p = output_port(DC__API_driver_output_binary, port, &drop, SITE);
  if (!p)
    return -1;
  if (drop)
    return 0;
  /* ERTS trusts bin and the range; reading a bad one would crash the mock,
   * so report and send nothing. */
  if (!dc__bin_valid(bin)) {
    dc__flag(DC_RULE_BIN_FOREIGN, "driver_output_binary",
             "%p is not a live driver binary", (void *)bin);
    return 0;
  }
  ErlDrvSizeT all = (ErlDrvSizeT)bin->orig_size;
  if (offset > all || len > all - offset) {
    dc__flag(DC_RULE_BIN_RANGE, "driver_output_binary",
             "[%zu,+%zu) outside a %zu-byte binary", (size_t)offset,
             (size_t)len, (size_t)all);
    return 0;
  }
  SysIOVec seg;
  seg.iov_base = bin->orig_bytes + offset;
  seg.iov_len = len;
  dc__deliver_data(p, hbuf, hlen, &seg, 1);
  /* The message shares these bytes from now on (bin.write_after_delivery). */
  dc__dlv_record(bin, seg.iov_base, len, DC__DLV_SENT, "driver_output_binary",
                 __builtin_return_address(0));
  return 0;
}

/* Skips `skip` bytes the way io.c driver_outputv does: whole entries are
 * passed over (left untouched), the entry the skip ends in is advanced IN
 * THE CALLER'S VECTOR (OTP 25: iov[1].iov_len 2 -> 1 after skip 1), and with
 * skip 0 a zero-length first entry is dropped. Returns the first entry. */
static SysIOVec *skip_bytes(ErlIOVec *ev, ErlDrvSizeT skip, int *n) {
  SysIOVec *iov = ev->iov;
  *n = ev->vsize;
  do {
    if (*n <= 0)
      break; /* ev->size claimed more than the entries hold */
    if (iov->iov_len <= skip) {
      skip -= iov->iov_len;
      iov++;
      (*n)--;
    } else {
      iov->iov_base = (char *)iov->iov_base + skip;
      iov->iov_len -= skip;
      skip = 0;
    }
  } while (skip > 0);
  return iov;
}

int driver_outputv(ErlDrvPort port, char *hbuf, ErlDrvSizeT hlen, ErlIOVec *ev,
                   ErlDrvSizeT skip) {
  int drop;
  dc__port *p = output_port(DC__API_driver_outputv, port, &drop, SITE);
  if (!ev)
    return -1;
  if (ev->size <= skip) /* nothing left: header only, as driver_output2 */
    return output2(p, drop, hbuf, hlen, NULL, 0);
  if (!p)
    return -1;
  if (drop)
    return 0;
  int n;
  SysIOVec *iov = skip_bytes(ev, skip, &n);
  dc__deliver_data(p, hbuf, hlen, iov, n);
  return 0;
}

/* Returns the number of bytes copied, min(len, ev->size) (the docs' "space
 * left in the buffer" is wrong; io.c driver_vec_to_buf). */
ErlDrvSizeT driver_vec_to_buf(ErlIOVec *ev, char *buf, ErlDrvSizeT len) {
  DC__API(driver_vec_to_buf);
  ErlDrvSizeT done = 0;
  for (int i = 0; i < ev->vsize && done < len; i++) {
    size_t n = ev->iov[i].iov_len;
    if (n > len - done)
      n = len - done;
    if (n)
      memcpy(buf + done, ev->iov[i].iov_base, n);
    done += n;
  }
  return done;
}
