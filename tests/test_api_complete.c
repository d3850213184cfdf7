/* API completeness: every function the installed erl_driver.h declares with
 * EXTERN (parsed here at test time, not a hard-coded list) plus the data
 * symbol driver_term_nil must be provided by the mock, and exported from the
 * drvcheck executable so a dlopen'ed driver binds to it like to beam.smp
 * (protocol.md: OTP 25 has 111 EXTERN functions, all exported by beam.smp). */
#include <ctype.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <erl_driver.h>

#include "runner.h"

#define MAX_NAMES 256
#define OTP25_EXTERN_COUNT 111

static char *names[MAX_NAMES];
static int nnames;

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    DC_FAIL("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  DC_ASSERT(s && fread(s, 1, (size_t)n, f) == (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

/* Blanks out comments, keeping newlines so lines stay lines. */
static void strip_comments(char *s) {
  for (char *p = s; *p; p++) {
    if (p[0] == '/' && p[1] == '*') {
      char *e = strstr(p + 2, "*/");
      char *end = e ? e + 2 : p + strlen(p);
      for (; p < end; p++)
        if (*p != '\n')
          *p = ' ';
      p--;
    } else if (p[0] == '/' && p[1] == '/') {
      for (; *p && *p != '\n'; p++)
        *p = ' ';
      if (!*p)
        break;
    }
  }
}

/* Name of the function declared in decl[0..len): the identifier right
 * before the first '('. */
static char *decl_name(const char *decl, size_t len) {
  const char *paren = memchr(decl, '(', len);
  if (!paren)
    return NULL;
  const char *e = paren;
  while (e > decl && isspace((unsigned char)e[-1]))
    e--;
  const char *b = e;
  while (b > decl && (isalnum((unsigned char)b[-1]) || b[-1] == '_'))
    b--;
  return b < e ? strndup(b, (size_t)(e - b)) : NULL;
}

/* Collects the names of all EXTERN declarations (not the #define EXTERN
 * lines): an EXTERN token at the start of a non-preprocessor line, up to the
 * terminating ';'. */
static void load_names(void) {
  if (nnames)
    return;
  char *h = read_file(DC_OTP_INCLUDE "/erl_driver.h");
  strip_comments(h);
  for (char *line = h; line && *line;) {
    char *p = line;
    while (*p == ' ' || *p == '\t')
      p++;
    char *nl = strchr(line, '\n');
    if (strncmp(p, "EXTERN", 6) == 0 && isspace((unsigned char)p[6])) {
      char *semi = strchr(p, ';');
      DC_ASSERT(semi != NULL);
      char *name = decl_name(p + 6, (size_t)(semi - p - 6));
      if (!name)
        DC_FAIL("cannot parse declaration: %.80s", p);
      DC_ASSERT(nnames < MAX_NAMES);
      names[nnames++] = name;
      nl = strchr(semi, '\n');
    }
    line = nl ? nl + 1 : NULL;
  }
  free(h);
  DC_ASSERT(nnames < MAX_NAMES);
  names[nnames++] = strdup("driver_term_nil");
}

DC_TEST(header_parse_count) {
  load_names();
  /* 111 EXTERN functions in OTP 25 (newer headers only add) + the datum */
  if (nnames - 1 < OTP25_EXTERN_COUNT)
    DC_FAIL("only %d EXTERN declarations parsed", nnames - 1);
  int seen_first = 0, seen_last = 0;
  for (int i = 0; i < nnames; i++) {
    seen_first |= strcmp(names[i], "erl_drv_busy_msgq_limits") == 0;
    seen_last |= strcmp(names[i], "erl_drv_set_os_pid") == 0;
    for (int j = 0; j < i; j++)
      if (strcmp(names[i], names[j]) == 0)
        DC_FAIL("duplicate name %s", names[i]);
  }
  DC_ASSERT(seen_first && seen_last);
}

DC_TEST(all_symbols_resolve) {
  load_names();
  int missing = 0;
  for (int i = 0; i < nnames; i++)
    if (!dlsym(RTLD_DEFAULT, names[i])) {
      fprintf(stderr, "missing: %s\n", names[i]);
      missing++;
    }
  if (missing)
    DC_FAIL("%d of %d erl_driver symbols unresolved", missing, nnames);
}

DC_TEST(driver_term_nil_matches) {
  /* looked up, not linked, so this file links while areas are missing */
  const ErlDrvTermData *nil = dlsym(RTLD_DEFAULT, "driver_term_nil");
  ErlDrvTermData (*mk_nil)(void) =
      (ErlDrvTermData(*)(void))dlsym(RTLD_DEFAULT, "driver_mk_term_nil");
  DC_ASSERT(nil != NULL && mk_nil != NULL);
  DC_ASSERT_EQ(*nil, mk_nil());
}

/* nm -D of the drvcheck binary lists every name as a defined dynamic
 * symbol, so drivers dlopen'ed by drvcheck bind to the mock. */
DC_TEST(drvcheck_exports_api) {
  load_names();
  FILE *p =
      popen("nm -D --defined-only '" DC_DRVCHECK_BIN "' 2>/dev/null", "r");
  DC_ASSERT(p != NULL);
  static char exported[MAX_NAMES];
  char line[512];
  int lines = 0;
  while (fgets(line, sizeof line, p)) {
    char addr[64], type[8], sym[400];
    if (sscanf(line, "%63s %7s %399s", addr, type, sym) != 3)
      continue;
    lines++;
    char *at = strchr(sym, '@'); /* versioned names: name@@VER */
    if (at)
      *at = '\0';
    for (int i = 0; i < nnames; i++)
      if (!exported[i] && strcmp(sym, names[i]) == 0)
        exported[i] = 1;
  }
  DC_ASSERT_EQ(pclose(p), 0);
  DC_ASSERT(lines > 0);
  int missing = 0;
  for (int i = 0; i < nnames; i++)
    if (!exported[i]) {
      fprintf(stderr, "not exported by drvcheck: %s\n", names[i]);
      missing++;
    }
  if (missing)
    DC_FAIL("%d erl_driver symbols not exported by %s", missing,
            DC_DRVCHECK_BIN);
}
