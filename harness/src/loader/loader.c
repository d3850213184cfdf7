/* Loader: what erl_ddll:load_driver does before a driver can open ports.
 *
 * The order of the checks follows ERTS (erl_bif_ddll.c do_load_driver_entry,
 * io.c init_driver): dlopen, driver_init lookup, driver_init(), marker and
 * version, name (before init), then init(). Checks the emulator does not make
 * but that catch real bugs (const entry, unknown flags) are findings only: the
 * driver still loads, as it would in the real emulator. */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

/* Flags OTP 25 defines for driver_flags. */
#define KNOWN_FLAGS                                                            \
  (ERL_DRV_FLAG_USE_PORT_LOCKING | ERL_DRV_FLAG_SOFT_BUSY |                    \
   ERL_DRV_FLAG_NO_BUSY_MSGQ | ERL_DRV_FLAG_USE_INIT_ACK)

static void *dl_handle;
/* What driver_init handed over, kept for the report even when the entry is
 * refused and the library closed again. */
static int have_seen;
static ErlDrvEntry seen_entry;
static char seen_name[64];
/* The last accepted load, for dc__load_again: its driver_init, the name
 * the entry must carry ("" for a static driver: not checked), and the
 * entry whose memory was last inspected with its read-only verdict. */
static struct {
  ErlDrvEntry *(*init_fn)(void);
  char name[128];
  int is_static;
  const ErlDrvEntry *entry;
  int ro;
} last;

int dc__loader_entry_copy(ErlDrvEntry *out, char *name, size_t cap) {
  if (!have_seen)
    return 0;
  *out = seen_entry;
  snprintf(name, cap, "%s", seen_name);
  return 1;
}

/* "dir/echo_drv.so" -> "echo_drv": the name erl_ddll expects in the entry. */
static void base_name(const char *path, char *out, size_t cap) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  snprintf(out, cap, "%s", b);
  char *dot = strchr(out, '.');
  if (dot)
    *dot = '\0';
}

/* Searches the loaded objects' program headers (no syscall: this runs for
 * every fuzz input). An address is read-only when it lies in a PT_LOAD
 * segment without PF_W, or in the PT_GNU_RELRO range the dynamic linker
 * write-protects after relocation (where a const entry holding function
 * pointers ends up). */
typedef struct ro_query {
  uintptr_t addr;
  int found, ro;
} ro_query;

static int in_seg(uintptr_t a, uintptr_t base, const ElfW(Phdr) * ph) {
  uintptr_t lo = base + ph->p_vaddr;
  return a >= lo && a < lo + ph->p_memsz;
}

static int find_segment(struct dl_phdr_info *info, size_t size, void *arg) {
  ro_query *q = arg;
  (void)size;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_LOAD && in_seg(q->addr, info->dlpi_addr, ph)) {
      q->found = 1;
      q->ro = q->ro || !(ph->p_flags & PF_W);
    } else if (ph->p_type == PT_GNU_RELRO &&
               in_seg(q->addr, info->dlpi_addr, ph)) {
      q->ro = 1;
    }
  }
  return q->found; /* stop at the object that holds it */
}

/* 1 when addr lies in memory the program cannot write. */
static int address_read_only(const void *addr) {
  ro_query q = {(uintptr_t)addr, 0, 0};
  dl_iterate_phdr(find_segment, &q);
  return q.found && q.ro;
}

static void load_flag(dc_rule rule, const char *fmt, const char *detail) {
  dc__report_ctx c = {"load", -1, "driver_init", NULL, NULL};
  dc__report(rule, &c, fmt, detail);
}

/* Marker and version as ERTS checks them; returns 0 if accepted. */
static int check_version(const ErlDrvEntry *e) {
  char buf[64];
  if (e->extended_marker != (int)ERL_DRV_EXTENDED_MARKER) {
    snprintf(buf, sizeof buf, "0x%x", (unsigned)e->extended_marker);
    load_flag(DC_RULE_ENTRY_MARKER,
              "extended_marker is %s, not ERL_DRV_EXTENDED_MARKER "
              "(erl_ddll: driver_incorrect_version)",
              buf);
    return -1;
  }
  int maj = e->major_version, min = e->minor_version;
  if (maj < ERL_DRV_MIN_REQUIRED_MAJOR_VERSION_ON_LOAD ||
      maj > ERL_DRV_EXTENDED_MAJOR_VERSION ||
      (maj == ERL_DRV_EXTENDED_MAJOR_VERSION &&
       min > ERL_DRV_EXTENDED_MINOR_VERSION)) {
    snprintf(buf, sizeof buf, "%d.%d", maj, min);
    load_flag(DC_RULE_ENTRY_VERSION,
              "driver API version %s is refused (OTP 25 accepts 2.x and "
              "3.0-3.3; erl_ddll: driver_incorrect_version)",
              buf);
    return -1;
  }
  return 0;
}

static int check_name(const ErlDrvEntry *e, const char *expected) {
  if (!e->driver_name || !e->driver_name[0]) {
    load_flag(DC_RULE_ENTRY_NAME, "%s", "driver_name is NULL or empty");
    return -1;
  }
  if (expected && strcmp(e->driver_name, expected) != 0) {
    char buf[200];
    snprintf(buf, sizeof buf, "driver_name \"%.60s\" but the library is %.60s",
             e->driver_name, expected);
    load_flag(DC_RULE_ENTRY_NAME, "%s (erl_ddll: bad_driver_name)", buf);
    return -1;
  }
  return 0;
}

/* Bounded copy of a driver name (NULL gives ""), as snprintf("%s") but
 * without the formatting machinery: this runs for every fuzz input. */
static void copy_name(char *dst, size_t cap, const char *src) {
  size_t n = src ? strnlen(src, cap - 1) : 0;
  memcpy(dst, src ? src : "", n);
  dst[n] = '\0';
}

/* Checks the entry and calls init(); the emulator state is fresh. ro is
 * the entry's read-only verdict when already known (the same entry of a
 * library that stayed mapped), or -1 to inspect the address space. */
static int accept_entry(ErlDrvEntry *e, const char *expected_name, int ro) {
  char buf[32];
  have_seen = e != NULL;
  if (e) {
    seen_entry = *e;
    copy_name(seen_name, sizeof seen_name, e->driver_name);
  }
  if (!e) {
    load_flag(DC_RULE_ENTRY_NULL, "%s",
              "driver_init returned NULL (erl_ddll: driver_init_failed)");
    return DC_ELOAD;
  }
  if (check_version(e) != 0 || check_name(e, expected_name) != 0)
    return DC_ELOAD;
  if (ro < 0)
    ro = address_read_only(e);
  last.entry = e;
  last.ro = ro;
  if (ro)
    load_flag(DC_RULE_ENTRY_CONST, "%s",
              "the ErlDrvEntry is in read-only memory (declared const); the "
              "emulator reserves handle/handle2 for writing");
  if (e->driver_flags & ~KNOWN_FLAGS) {
    snprintf(buf, sizeof buf, "0x%x",
             (unsigned)(e->driver_flags & ~KNOWN_FLAGS));
    load_flag(DC_RULE_ENTRY_FLAGS, "unknown driver_flags bits %s", buf);
  }
  dc__g.entry = e;
  dc__g.snapshot = *e;
  copy_name(dc__g.driver_name, sizeof dc__g.driver_name, e->driver_name);
  dc__g.port_locking = (e->driver_flags & ERL_DRV_FLAG_USE_PORT_LOCKING) != 0;
  if (e->init) {
    dc__tls.cb = DC__CB_INIT;
    dc__g.cb_count[DC__CB_INIT]++;
    int rc = e->init();
    dc__tls.cb = DC__CB_NONE;
    if (rc != 0) {
      snprintf(buf, sizeof buf, "%d", rc);
      load_flag(DC_RULE_ENTRY_INIT_FAILED,
                "init() returned %s (erl_ddll: driver_init_failed)", buf);
      dc__g.entry = NULL;
      return DC_ELOAD;
    }
  }
  dc__g.loaded = 1;
  return 0;
}

/* Classifies a dlopen failure into the error the user should see. */
static int dlopen_error(const char *path, char *errbuf, size_t cap) {
  const char *msg = dlerror();
  const char *undef = msg ? strstr(msg, "undefined symbol: ") : NULL;
  if (undef) {
    snprintf(errbuf, cap, "%s: unresolved symbol %s", path, undef + 18);
    return DC_EUNRESOLVED;
  }
  snprintf(errbuf, cap, "%s: not a shared object (%s)", path,
           msg ? msg : "dlopen failed");
  return DC_ENOTSO;
}

static void remember(ErlDrvEntry *(*init_fn)(void), const char *name,
                     int is_static) {
  last.init_fn = init_fn;
  snprintf(last.name, sizeof last.name, "%s", name);
  last.is_static = is_static;
}

const char *dc__dl_name(const char *path, char *buf, size_t cap) {
  if (strchr(path, '/'))
    return path;
  snprintf(buf, cap, "./%s", path);
  return buf;
}

int dc__load_driver(const char *path, char *errbuf, size_t cap) {
  struct stat st;
  char name[128], sym[160], dl[4096];
  if (stat(path, &st) != 0) {
    snprintf(errbuf, cap, "%s: %s", path, strerror(errno));
    return DC_ENOENT;
  }
  if (!S_ISREG(st.st_mode)) {
    snprintf(errbuf, cap, "%s: not a regular file", path);
    return DC_ENOTSO;
  }
  have_seen = 0;
  void *h = dlopen(dc__dl_name(path, dl, sizeof dl), RTLD_NOW | RTLD_LOCAL);
  if (!h)
    return dlopen_error(path, errbuf, cap);
  base_name(path, name, sizeof name);
  ErlDrvEntry *(*init_fn)(void) =
      (ErlDrvEntry * (*)(void)) dlsym(h, "driver_init");
  if (!init_fn)
    init_fn = (ErlDrvEntry * (*)(void)) dlsym(h, "_driver_init");
  if (!init_fn) {
    snprintf(sym, sizeof sym, "%s_driver_init", name);
    if (dlsym(h, sym)) {
      /* Built with STATIC_ERLANG_DRIVER: erl_ddll cannot load it. */
      load_flag(DC_RULE_ENTRY_NULL,
                "no driver_init, only %s: the driver was built with "
                "STATIC_ERLANG_DRIVER (erl_ddll: no_driver_init)",
                sym);
      dlclose(h);
      return DC_ELOAD;
    }
    snprintf(errbuf, cap, "%s: no driver_init function: not an Erlang driver",
             path);
    dlclose(h);
    return DC_ENOINIT;
  }
  dc__tls.kind = DC__THR_EMU;
  int rc = accept_entry(init_fn(), name, -1);
  if (rc != 0) {
    dlclose(h);
    return rc;
  }
  dl_handle = h;
  remember(init_fn, name, 0);
  return 0;
}

int dc__load_static(ErlDrvEntry *(*init_fn)(void), char *errbuf, size_t cap) {
  if (!init_fn) {
    snprintf(errbuf, cap, "no driver init function given");
    return DC_EINVAL;
  }
  dc__tls.kind = DC__THR_EMU;
  int rc = accept_entry(init_fn(), NULL, -1);
  if (rc == 0) {
    dc__g.is_static = 1;
    remember(init_fn, "", 1);
  }
  return rc;
}

int dc__load_again(char *errbuf, size_t cap) {
  if (!last.init_fn) {
    snprintf(errbuf, cap, "no driver was loaded before");
    return DC_ESTATE;
  }
  dc__tls.kind = DC__THR_EMU;
  /* driver_init runs again, as erl_ddll calls it on every load; only the
   * address-space walk is skipped when it hands over the same entry. */
  ErlDrvEntry *e = last.init_fn();
  int rc = accept_entry(e, last.is_static ? NULL : last.name,
                        e && e == last.entry ? last.ro : -1);
  if (rc == 0)
    dc__g.is_static = last.is_static;
  return rc;
}

/* Builds with ASan skip its checks in entry_differs: the entry was read
 * whole, checked, when driver_init handed it over, and this comparison
 * runs after every fuzz operation, where a shadow check per word cost
 * more than the comparison itself. */
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 8)
#define NO_ASAN_CHECKS __attribute__((no_sanitize("address")))
#else
#define NO_ASAN_CHECKS
#endif

/* 1 if a and b differ outside handle and handle2 (the emulator's fields).
 * Word by word in place, without branches: the XORs of all words are ORed
 * (the two excluded words masked out), which the compiler unrolls and
 * vectorises; copies and a memcmp (a sanitizer interceptor) cost more. */
NO_ASAN_CHECKS static int entry_differs(const ErlDrvEntry *a,
                                        const ErlDrvEntry *b) {
  enum { W = sizeof(uintptr_t), N = sizeof(ErlDrvEntry) / sizeof(uintptr_t) };
  const size_t h1 = offsetof(ErlDrvEntry, handle) / W;
  const size_t h2 = offsetof(ErlDrvEntry, handle2) / W;
  const unsigned char *pa = (const unsigned char *)a;
  const unsigned char *pb = (const unsigned char *)b;
  _Static_assert(sizeof(ErlDrvEntry) % sizeof(uintptr_t) == 0, "word size");
  _Static_assert(offsetof(ErlDrvEntry, handle) % sizeof(uintptr_t) == 0 &&
                     offsetof(ErlDrvEntry, handle2) % sizeof(uintptr_t) == 0,
                 "handle fields are words");
  uintptr_t diff = 0;
  for (size_t i = 0; i < N; i++) {
    uintptr_t x, y;
    memcpy(&x, pa + i * W, W);
    memcpy(&y, pb + i * W, W);
    diff |= (i == h1 || i == h2) ? 0 : x ^ y;
  }
  return diff != 0;
}

int dc__entry_check_modified(void) {
  /* After unload the entry may live in an unmapped library. */
  if (!dc__g.entry || !dc__g.loaded)
    return 0;
  /* handle and handle2 are the emulator's; everything else is the driver's
   * promise not to change. */
  if (!entry_differs(dc__g.entry, &dc__g.snapshot))
    return 0;
  dc__flag(DC_RULE_ENTRY_MODIFIED, "",
           "the ErlDrvEntry changed after driver_init handed it over");
  /* Report once: the new contents become the reference. */
  dc__g.snapshot = *dc__g.entry;
  return 1;
}

/* Terminates remaining ports and lets async jobs and deferred stop_select
 * calls finish, as ERTS does before it calls finish(). */
static void drain_before_finish(void) {
  for (dc__port *p = dc__port_next_live(0); p;
       p = dc__port_next_live(p->idx + 1))
    dc__port_terminate(p, "driver_unloaded");
  dc__async_wait_idle();
  dc__async_deliver(-1);
  dc__select_run_deferred();
}

static void report_leaks(void) {
  size_t bytes = 0, blocks = dc__mem_live_count(&bytes);
  size_t bins = dc__bin_live_count();
  dc__report_ctx c = {"unload", -1, "", NULL, NULL};
  char suspects[200] = "";
  dc__lifecycle_leak_suspects(suspects, sizeof suspects);
  if (blocks)
    dc__report(DC_RULE_MEM_LEAK, &c,
               "%zu driver_alloc block(s), %zu bytes, not freed at unload%s",
               blocks, bytes, suspects);
  if (bins)
    dc__report(DC_RULE_BIN_LEAK, &c,
               "%zu binary(ies) still referenced by the driver at unload",
               bins);
}

int dc__unload_driver(void) {
  if (!dc__g.loaded)
    return DC_ESTATE;
  /* Stuck ports are reported, then terminated like the others so that the
   * unload proceeds (a CLOSING port never would on its own). */
  dc__lifecycle_check_ports();
  drain_before_finish();
  dc__dlv_check_all(); /* delivered binaries written after the last check */
  dc__entry_check_modified();
  if (dc__g.entry->finish) {
    dc__tls.cb = DC__CB_FINISH;
    dc__g.cb_count[DC__CB_FINISH]++;
    dc__g.entry->finish();
    dc__tls.cb = DC__CB_NONE;
  }
  dc__g.loaded = 0;
  report_leaks();
  if (!dc__g.locked_driver) /* a locked driver is never really unloaded */
    dc__lifecycle_check_finish();
  if (dl_handle && !dc__g.locked_driver)
    dlclose(dl_handle);
  dl_handle = NULL;
  return 0;
}
