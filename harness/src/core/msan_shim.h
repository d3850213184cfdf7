/* MemorySanitizer shim for the two uninstrumented libraries drvcheck links:
 * Erlang's ei (libei.a, from the distribution) and cJSON (libcjson.so).
 *
 * MSan tracks initialisation only through instrumented code. Stores done by
 * ei or cJSON do not update the shadow, so whatever they write into fresh
 * heap or stack memory keeps reading as uninitialised and the harness's own
 * reads of it are reported (false positives that would be blamed on the
 * driver under test or crash its run unit). The shim wraps every ei function
 * drvcheck, its tests and its fuzz targets call in a same-named
 * function-like macro: the real function runs, then exactly the bytes ei
 * produced are marked initialised (__msan_unpoison). Bytes ei only copies
 * (binary and string payloads, appended buffers) take the shadow of their
 * source instead, so uninitialised driver bytes stay uninitialised; scalar
 * arguments ei branches on (integers, arities, atom text) are checked the
 * way an instrumented ei would. Driver memory is never unpoisoned.
 *
 * cJSON gets allocation hooks that hand out zero-filled memory, so nodes
 * and printed text it builds read as initialised (see the cJSON part).
 *
 * core/internal.h includes it (it includes <ei.h> itself); the cJSON part
 * needs <cjson/cJSON.h> included first. Drivers that call ei get it with
 * -include (sanitizers/README.md). Outside an MSan build it defines only an
 * empty DC__MSAN_OPAQUE. */
#ifndef DC_MSAN_SHIM_BASE
#define DC_MSAN_SHIM_BASE
/* Nested: `defined(__has_feature) && __has_feature(x)` does not parse in
 * compilers without __has_feature. */
#if defined(__has_feature)
#if __has_feature(memory_sanitizer)
#define DC__MSAN 1
#endif
#endif
/* For harness code that reads driver bytes without the driver having used
 * them (write-after-delivery checksums): such a read is drvcheck's, not a
 * use by the driver, so it must neither report nor propagate shadow. */
#if defined(DC__MSAN)
#define DC__MSAN_OPAQUE __attribute__((no_sanitize("memory")))
#else
#define DC__MSAN_OPAQUE
#endif
#endif /* DC_MSAN_SHIM_BASE */

#if defined(DC__MSAN) && !defined(DC_MSAN_SHIM_EI)
#define DC_MSAN_SHIM_EI
#include <ei.h>
#include <sanitizer/msan_interface.h>
#include <stddef.h>
#include <string.h>

/* Marks buf[from, to) as written (buf NULL: ei only measured). */
static inline void dc__msan_wrote(const char *buf, int from, int to) {
  if (buf && to > from)
    __msan_unpoison(buf + from, (size_t)(to - from));
}

/* buf[at, at + n) is a copy of src: it gets src's shadow, not "written". */
static inline void dc__msan_copied(const char *buf, int at, const void *src,
                                   long n) {
  if (buf && src && n > 0)
    __msan_copy_shadow(buf + at, src, (size_t)n);
}

/* ei branches on this value (size class of an integer, arity width, ...):
 * an instrumented ei would report an uninitialised one here. */
#define dc__msan_used(v) __msan_check_mem_is_initialized(&(v), sizeof(v))

/* After an ei_x_* call: ei (re)wrote the buffer descriptor and, on
 * success, the encoding bytes from `from` to the new index. */
static inline int dc__msan_x_done(ei_x_buff *x, int from, int r) {
  __msan_unpoison(x, sizeof *x);
  if (r == 0)
    dc__msan_wrote(x->buff, from, x->index);
  return r;
}

/* After an ei_encode_* call on a plain buffer (NULL: size pass). */
static inline int dc__msan_enc_done(const char *buf, int *i, int from, int r) {
  if (r == 0) {
    __msan_unpoison(i, sizeof *i);
    dc__msan_wrote(buf, from, *i);
  }
  return r;
}

/* A string encoding's payload: STRING_EXT copies the bytes after a 3-byte
 * header; over 65535 bytes ei writes a list of small integers instead
 * (5-byte header, then tag + byte per element). */
static inline void dc__msan_string_payload(const char *buf, int from,
                                           const char *s, int len) {
  if (!buf || len <= 0)
    return;
  if (len <= 0xffff) {
    dc__msan_copied(buf, from + 3, s, len);
    return;
  }
  for (int k = 0; k < len; k++)
    dc__msan_copied(buf, from + 5 + 2 * k + 1, s + k, 1);
}

/* ---- ei_x_* encoders (self-growing buffer) ---------------------------- */

static inline int dc__msan_ei_x_new(ei_x_buff *x) {
  int r = ei_x_new(x);
  __msan_unpoison(x, sizeof *x); /* buff, buffsz, index; buff[] is fresh */
  return r;
}

static inline int dc__msan_ei_x_new_with_version(ei_x_buff *x) {
  return dc__msan_x_done(x, 0, ei_x_new_with_version(x));
}

static inline int dc__msan_ei_x_free(ei_x_buff *x) {
  int r = ei_x_free(x);
  __msan_unpoison(&x->buff, sizeof x->buff); /* set to NULL */
  return r;
}

static inline int dc__msan_ei_x_append_buf(ei_x_buff *x, const char *b,
                                           int len) {
  int from = x->index;
  int r = dc__msan_x_done(x, from, ei_x_append_buf(x, b, len));
  if (r == 0)
    dc__msan_copied(x->buff, from, b, len);
  return r;
}

static inline int dc__msan_ei_x_encode_binary(ei_x_buff *x, const void *p,
                                              int len) {
  int from = x->index;
  int r = dc__msan_x_done(x, from, ei_x_encode_binary(x, p, len));
  if (r == 0)
    dc__msan_copied(x->buff, x->index - len, p, len);
  return r;
}

static inline int dc__msan_ei_x_encode_string_len(ei_x_buff *x, const char *s,
                                                  int len) {
  int from = x->index;
  int r = dc__msan_x_done(x, from, ei_x_encode_string_len(x, s, len));
  if (r == 0)
    dc__msan_string_payload(x->buff, from, s, len);
  return r;
}

/* ei_x_encode_string is ei_x_encode_string_len over strlen(s). */
static inline int dc__msan_ei_x_encode_string(ei_x_buff *x, const char *s) {
  return dc__msan_ei_x_encode_string_len(x, s, (int)strlen(s));
}

static inline int dc__msan_ei_x_encode_atom(ei_x_buff *x, const char *s) {
  int from = x->index;
  return dc__msan_x_done(x, from, ei_x_encode_atom(x, s));
}

static inline int
dc__msan_ei_x_encode_atom_len_as(ei_x_buff *x, const char *s, int len,
                                 erlang_char_encoding from_enc,
                                 erlang_char_encoding to_enc) {
  if (s && len > 0) /* converted character by character */
    __msan_check_mem_is_initialized(s, (size_t)len);
  int from = x->index;
  return dc__msan_x_done(x, from,
                         ei_x_encode_atom_len_as(x, s, len, from_enc, to_enc));
}

/* Header/integer encoders: ei picks the encoding from the value. */
#define DC__MSAN_X_SCALAR(name, type)                                          \
  static inline int dc__msan_##name(ei_x_buff *x, type n) {                    \
    dc__msan_used(n);                                                          \
    int from = x->index;                                                       \
    return dc__msan_x_done(x, from, name(x, n));                               \
  }
DC__MSAN_X_SCALAR(ei_x_encode_long, long)
DC__MSAN_X_SCALAR(ei_x_encode_longlong, EI_LONGLONG)
DC__MSAN_X_SCALAR(ei_x_encode_ulonglong, EI_ULONGLONG)
DC__MSAN_X_SCALAR(ei_x_encode_tuple_header, long)
DC__MSAN_X_SCALAR(ei_x_encode_list_header, long)
DC__MSAN_X_SCALAR(ei_x_encode_map_header, long)
#undef DC__MSAN_X_SCALAR

static inline int dc__msan_ei_x_encode_empty_list(ei_x_buff *x) {
  int from = x->index;
  return dc__msan_x_done(x, from, ei_x_encode_empty_list(x));
}

static inline int dc__msan_ei_x_encode_version(ei_x_buff *x) {
  int from = x->index;
  return dc__msan_x_done(x, from, ei_x_encode_version(x));
}

/* A float's 8 bytes are copied, not inspected: they keep its shadow. */
static inline int dc__msan_ei_x_encode_double(ei_x_buff *x, double d) {
  int from = x->index;
  int r = dc__msan_x_done(x, from, ei_x_encode_double(x, d));
  if (r == 0 && __msan_test_shadow(&d, sizeof d) >= 0)
    __msan_poison(x->buff + x->index - (int)sizeof d, sizeof d);
  return r;
}

static inline int dc__msan_ei_x_encode_pid(ei_x_buff *x, const erlang_pid *p) {
  int from = x->index;
  return dc__msan_x_done(x, from, ei_x_encode_pid(x, p));
}

static inline int dc__msan_ei_x_encode_port(ei_x_buff *x,
                                            const erlang_port *p) {
  int from = x->index;
  return dc__msan_x_done(x, from, ei_x_encode_port(x, p));
}

/* Variadic: no va_list variant in ei, so a statement expression (MSan
 * builds are clang builds). */
#define ei_x_format_wo_ver(x, ...)                                             \
  __extension__({                                                              \
    ei_x_buff *dc__fx = (x);                                                   \
    int dc__from = dc__fx->index;                                              \
    dc__msan_x_done(dc__fx, dc__from,                                          \
                    ei_x_format_wo_ver(dc__fx, __VA_ARGS__));                  \
  })

/* ---- ei_encode_* on a caller's buffer ---------------------------------- */

static inline int dc__msan_ei_encode_version(char *b, int *i) {
  int from = *i;
  return dc__msan_enc_done(b, i, from, ei_encode_version(b, i));
}

static inline int dc__msan_ei_encode_atom(char *b, int *i, const char *s) {
  int from = *i;
  return dc__msan_enc_done(b, i, from, ei_encode_atom(b, i, s));
}

static inline int dc__msan_ei_encode_long(char *b, int *i, long n) {
  dc__msan_used(n);
  int from = *i;
  return dc__msan_enc_done(b, i, from, ei_encode_long(b, i, n));
}

static inline int dc__msan_ei_encode_tuple_header(char *b, int *i, int n) {
  dc__msan_used(n);
  int from = *i;
  return dc__msan_enc_done(b, i, from, ei_encode_tuple_header(b, i, n));
}

/* ei.h's ei_encode_empty_list is a macro for this with arity 0. */
static inline int dc__msan_ei_encode_list_header(char *b, int *i, int n) {
  dc__msan_used(n);
  int from = *i;
  return dc__msan_enc_done(b, i, from, ei_encode_list_header(b, i, n));
}

static inline int dc__msan_ei_encode_binary(char *b, int *i, const void *p,
                                            long len) {
  int from = *i;
  int r = dc__msan_enc_done(b, i, from, ei_encode_binary(b, i, p, len));
  if (r == 0)
    dc__msan_copied(b, *i - (int)len, p, len);
  return r;
}

static inline int dc__msan_ei_encode_string_len(char *b, int *i, const char *s,
                                                int len) {
  int from = *i;
  int r = dc__msan_enc_done(b, i, from, ei_encode_string_len(b, i, s, len));
  if (r == 0)
    dc__msan_string_payload(b, from, s, len);
  return r;
}

/* ---- decoders: ei writes the index and the outputs asked for ---------- */

#define dc__msan_out(p)                                                        \
  do {                                                                         \
    if (p)                                                                     \
      __msan_unpoison((p), sizeof *(p));                                       \
  } while (0)

/* ei_get_type always stores both outputs (and returns 0). */
static inline int dc__msan_ei_get_type(const char *b, const int *i, int *type,
                                       int *size) {
  int r = ei_get_type(b, i, type, size);
  dc__msan_out(type);
  dc__msan_out(size);
  return r;
}

static inline int dc__msan_ei_skip_term(const char *b, int *i) {
  int r = ei_skip_term(b, i);
  if (r == 0)
    dc__msan_out(i);
  return r;
}

/* Decoders with one fixed-size output. */
#define DC__MSAN_DEC(name, type)                                               \
  static inline int dc__msan_##name(const char *b, int *i, type *p) {          \
    int r = name(b, i, p);                                                     \
    if (r == 0) {                                                              \
      dc__msan_out(i);                                                         \
      dc__msan_out(p);                                                         \
    }                                                                          \
    return r;                                                                  \
  }
DC__MSAN_DEC(ei_decode_version, int)
DC__MSAN_DEC(ei_decode_tuple_header, int)
DC__MSAN_DEC(ei_decode_list_header, int)
DC__MSAN_DEC(ei_decode_map_header, int)
DC__MSAN_DEC(ei_decode_long, long)
DC__MSAN_DEC(ei_decode_longlong, EI_LONGLONG)
DC__MSAN_DEC(ei_decode_ulonglong, EI_ULONGLONG)
DC__MSAN_DEC(ei_decode_double, double)
#undef DC__MSAN_DEC

/* Strings: ei writes the text and its NUL, nothing after it. */
static inline int dc__msan_ei_decode_string(const char *b, int *i, char *s) {
  int r = ei_decode_string(b, i, s);
  if (r == 0) {
    dc__msan_out(i);
    if (s)
      __msan_unpoison_string(s);
  }
  return r;
}

static inline int dc__msan_ei_decode_atom_as(const char *b, int *i, char *p,
                                             int destlen,
                                             erlang_char_encoding want,
                                             erlang_char_encoding *was,
                                             erlang_char_encoding *res) {
  int r = ei_decode_atom_as(b, i, p, destlen, want, was, res);
  if (r == 0) {
    dc__msan_out(i);
    dc__msan_out(was);
    dc__msan_out(res);
    if (p)
      __msan_unpoison_string(p);
  }
  return r;
}

/* pid/port/ref: the node name up to its NUL and the numeric fields; the
 * rest of the node array stays as it was. */
static inline int dc__msan_ei_decode_pid(const char *b, int *i, erlang_pid *p) {
  int r = ei_decode_pid(b, i, p);
  if (r == 0) {
    dc__msan_out(i);
    if (p) {
      __msan_unpoison_string(p->node);
      dc__msan_out(&p->num);
      dc__msan_out(&p->serial);
      dc__msan_out(&p->creation);
    }
  }
  return r;
}

static inline int dc__msan_ei_decode_port(const char *b, int *i,
                                          erlang_port *p) {
  int r = ei_decode_port(b, i, p);
  if (r == 0) {
    dc__msan_out(i);
    if (p) {
      __msan_unpoison_string(p->node);
      dc__msan_out(&p->id);
      dc__msan_out(&p->creation);
    }
  }
  return r;
}

static inline int dc__msan_ei_decode_ref(const char *b, int *i, erlang_ref *p) {
  int r = ei_decode_ref(b, i, p);
  if (r == 0) {
    dc__msan_out(i);
    if (p) {
      __msan_unpoison_string(p->node);
      dc__msan_out(&p->len);
      dc__msan_out(&p->creation);
      size_t n = sizeof p->n / sizeof p->n[0];
      if (p->len >= 0 && (size_t)p->len < n)
        n = (size_t)p->len;
      __msan_unpoison(p->n, n * sizeof p->n[0]);
    }
  }
  return r;
}

/* Bignums: sign and (arity + 1) / 2 16-bit digits. */
static inline int dc__msan_ei_decode_big(const char *b, int *i, erlang_big *p) {
  int r = ei_decode_big(b, i, p);
  if (r == 0) {
    dc__msan_out(i);
    if (p) {
      dc__msan_out(&p->is_neg);
      __msan_unpoison(p->digits, (p->arity + 1) / 2 * sizeof(unsigned short));
    }
  }
  return r;
}

static inline erlang_big *dc__msan_ei_alloc_big(unsigned int arity) {
  erlang_big *p = ei_alloc_big(arity);
  if (p) { /* zero-filled struct and digits */
    __msan_unpoison(p, sizeof *p);
    __msan_unpoison(p->digits, (arity + 1) / 2 * sizeof(unsigned short));
  }
  return p;
}

/* The bits stay in the buffer (*pp points into it): only the descriptors
 * are outputs. */
static inline int dc__msan_ei_decode_bitstring(const char *b, int *i,
                                               const char **pp,
                                               unsigned int *bitoffsp,
                                               size_t *nbitsp) {
  int r = ei_decode_bitstring(b, i, pp, bitoffsp, nbitsp);
  if (r == 0) {
    dc__msan_out(i);
    dc__msan_out(pp);
    dc__msan_out(bitoffsp);
    dc__msan_out(nbitsp);
  }
  return r;
}

/* ---- the names drvcheck calls ------------------------------------------
 * ei_init, ei_free_big: nothing written that drvcheck reads, not wrapped.
 * Keep this list in step with: grep -rhoE "\bei_[a-z_]+\(" harness/src fuzz
 * tests. */
#define ei_x_new(x) dc__msan_ei_x_new(x)
#define ei_x_new_with_version(x) dc__msan_ei_x_new_with_version(x)
#define ei_x_free(x) dc__msan_ei_x_free(x)
#define ei_x_append_buf(x, b, n) dc__msan_ei_x_append_buf(x, b, n)
#define ei_x_encode_binary(x, p, n) dc__msan_ei_x_encode_binary(x, p, n)
#define ei_x_encode_string(x, s) dc__msan_ei_x_encode_string(x, s)
#define ei_x_encode_string_len(x, s, n) dc__msan_ei_x_encode_string_len(x, s, n)
#define ei_x_encode_atom(x, s) dc__msan_ei_x_encode_atom(x, s)
#define ei_x_encode_atom_len_as(x, s, n, f, t)                                 \
  dc__msan_ei_x_encode_atom_len_as(x, s, n, f, t)
#define ei_x_encode_long(x, n) dc__msan_ei_x_encode_long(x, n)
#define ei_x_encode_longlong(x, n) dc__msan_ei_x_encode_longlong(x, n)
#define ei_x_encode_ulonglong(x, n) dc__msan_ei_x_encode_ulonglong(x, n)
#define ei_x_encode_tuple_header(x, n) dc__msan_ei_x_encode_tuple_header(x, n)
#define ei_x_encode_list_header(x, n) dc__msan_ei_x_encode_list_header(x, n)
#define ei_x_encode_map_header(x, n) dc__msan_ei_x_encode_map_header(x, n)
#define ei_x_encode_empty_list(x) dc__msan_ei_x_encode_empty_list(x)
#define ei_x_encode_version(x) dc__msan_ei_x_encode_version(x)
#define ei_x_encode_double(x, d) dc__msan_ei_x_encode_double(x, d)
#define ei_x_encode_pid(x, p) dc__msan_ei_x_encode_pid(x, p)
#define ei_x_encode_port(x, p) dc__msan_ei_x_encode_port(x, p)
#define ei_encode_version(b, i) dc__msan_ei_encode_version(b, i)
#define ei_encode_list_header(b, i, n) dc__msan_ei_encode_list_header(b, i, n)
#define ei_encode_atom(b, i, s) dc__msan_ei_encode_atom(b, i, s)
#define ei_encode_long(b, i, n) dc__msan_ei_encode_long(b, i, n)
#define ei_encode_tuple_header(b, i, n) dc__msan_ei_encode_tuple_header(b, i, n)
#define ei_encode_binary(b, i, p, n) dc__msan_ei_encode_binary(b, i, p, n)
#define ei_encode_string_len(b, i, s, n)                                       \
  dc__msan_ei_encode_string_len(b, i, s, n)
#define ei_get_type(b, i, t, s) dc__msan_ei_get_type(b, i, t, s)
#define ei_skip_term(b, i) dc__msan_ei_skip_term(b, i)
#define ei_decode_version(b, i, p) dc__msan_ei_decode_version(b, i, p)
#define ei_decode_tuple_header(b, i, p) dc__msan_ei_decode_tuple_header(b, i, p)
#define ei_decode_list_header(b, i, p) dc__msan_ei_decode_list_header(b, i, p)
#define ei_decode_map_header(b, i, p) dc__msan_ei_decode_map_header(b, i, p)
#define ei_decode_long(b, i, p) dc__msan_ei_decode_long(b, i, p)
#define ei_decode_longlong(b, i, p) dc__msan_ei_decode_longlong(b, i, p)
#define ei_decode_ulonglong(b, i, p) dc__msan_ei_decode_ulonglong(b, i, p)
#define ei_decode_double(b, i, p) dc__msan_ei_decode_double(b, i, p)
#define ei_decode_string(b, i, s) dc__msan_ei_decode_string(b, i, s)
#define ei_decode_atom_as(b, i, p, n, w, was, res)                             \
  dc__msan_ei_decode_atom_as(b, i, p, n, w, was, res)
#define ei_decode_pid(b, i, p) dc__msan_ei_decode_pid(b, i, p)
#define ei_decode_port(b, i, p) dc__msan_ei_decode_port(b, i, p)
#define ei_decode_ref(b, i, p) dc__msan_ei_decode_ref(b, i, p)
#define ei_decode_big(b, i, p) dc__msan_ei_decode_big(b, i, p)
#define ei_alloc_big(n) dc__msan_ei_alloc_big(n)
#define ei_decode_bitstring(b, i, pp, o, n)                                    \
  dc__msan_ei_decode_bitstring(b, i, pp, o, n)
#endif /* DC__MSAN && !DC_MSAN_SHIM_EI */

/* cJSON: zero-filled allocations. Every node, string and print buffer
 * cJSON builds comes from these hooks, so its own (uninstrumented) stores
 * land in memory MSan already counts as initialised; strings it copies
 * with memcpy keep their source's shadow through MSan's interceptor.
 * Installed before main in every translation unit that includes both
 * cJSON.h and this header (report.c, the tests that parse reports). */
#if defined(DC__MSAN) && defined(cJSON__h) && !defined(DC_MSAN_SHIM_CJSON)
#define DC_MSAN_SHIM_CJSON
#include <stdlib.h>

static void *dc__msan_cjson_alloc(size_t n) { return calloc(1, n ? n : 1); }

__attribute__((constructor)) static void dc__msan_cjson_hooks(void) {
  cJSON_Hooks h = {dc__msan_cjson_alloc, free};
  cJSON_InitHooks(&h);
}
#endif /* DC__MSAN && cJSON__h && !DC_MSAN_SHIM_CJSON */
