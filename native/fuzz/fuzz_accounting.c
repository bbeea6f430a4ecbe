/* libFuzzer harness for the host's reader of the accounting region (accounting.c,
 * accounting_reader.c): a container owns that file and may write anything into it, cut it, grow
 * it or swap it for a FIFO, symlink or directory; the host must never crash or hang on it, and
 * must report exactly what the region says or refuse it in one line.
 *
 * Input: [shape][k lo][k hi][errlen][48-byte XOR mask on the header][records...], each record
 * 11 bytes: u16 slot (>= 1024: the region's own arrays; odd: peak and refused, even: used,
 * context estimates and lock bytes), u8 field, u64 value (little endian).
 * shape % 16: 0-9 whole region, 10 shorter by k+1 bytes, 11 longer by k+1, 12 header only,
 * 13 empty, 14 a FIFO, 15 a symlink to a good region (odd k) or a directory (even k);
 * shape & 48 == 48 also reads through gpumem_accounting_read_usage. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../src/format/accounting_reader.h"
#include "fuzz_common.h"

#define REGION sizeof(struct gpumem_region)
#define HEAD offsetof(struct gpumem_region, lock) /* the fields the validator reads */
#define ARRAYS_AT offsetof(struct gpumem_region, lock)
#define ARRAYS_LEN (offsetof(struct gpumem_region, slots) - ARRAYS_AT)

static char dir[64], good[96], fifo[96], link_[96], subdir[96];
/* base: the region as created. shadow: the file itself, mapped, so a scribble is a store (the
 * reader's pread sees the same page cache) and the harness costs little beside the reader. */
static struct gpumem_region *base, *shadow;
static int fd = -1;

static void cleanup(void)
{
  unlink(good), unlink(fifo), unlink(link_), rmdir(subdir), rmdir(dir);
}

static void setup(void)
{
  const char *root = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(dir, sizeof dir, "%s/gpumem-fuzz-acct.XXXXXX", root);
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  snprintf(good, sizeof good, "%s/accounting", dir);
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  snprintf(link_, sizeof link_, "%s/link", dir);
  snprintf(subdir, sizeof subdir, "%s/dir", dir);
  char err[256];
  CHECK(gpumem_accounting_create_file(good, 1, err, sizeof err) == 0, "create: %s", err);
  CHECK(mkfifo(fifo, 0600) == 0 && symlink(good, link_) == 0 && mkdir(subdir, 0700) == 0, "setup");
  fd = open(good, O_RDWR | O_CLOEXEC);
  base = malloc(REGION);
  CHECK(fd >= 0 && base && pread(fd, base, REGION, 0) == (ssize_t)REGION, "read back");
  shadow = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(shadow != MAP_FAILED, "map");
  atexit(cleanup);
}

static void put(void *field, const void *value, size_t len) { memcpy(field, value, len); }

/* What validation must accept: the header exactly as created, the generation aside. */
static int header_good(const struct gpumem_region *r)
{
  return memcmp(r->magic, GPUMEM_ACCOUNTING_MAGIC, 8) == 0 &&
         r->version == GPUMEM_ACCOUNTING_VERSION &&
         r->header_size == offsetof(struct gpumem_region, slots) && r->total_size == REGION &&
         r->max_gpus == GPUMEM_MAX_GPUS && r->max_slots == GPUMEM_MAX_SLOTS &&
         r->slot_size == sizeof(struct gpumem_slot);
}

static uint64_t le64(const uint8_t *p)
{
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static void check_failed(int rc, const struct errbuf *e, const char *path, const char *where)
{
  CHECK(rc == -1, "%s: %s accepted a bad region (rc %d)", where, path, rc);
  errbuf_check(e, where);
  if (e->len == 512) CHECK(strstr(e->bytes, path) != NULL, "%s: message does not name the file: %s", where, e->bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (fd < 0) setup();
  if (size < 4 + HEAD) return -1; /* too short to say anything: not added to the corpus */
  unsigned shape = data[0] % 16, k = (unsigned)(data[1] | data[2] << 8) + 1;
  int errlen = data[3] == 255 ? 512 : data[3];
  const uint8_t *mask = data + 4, *rec = data + 4 + HEAD, *end = data + size;

  /* Scribble: the header, then fields of slots and of the region's arrays. */
  uint8_t head[HEAD];
  for (size_t i = 0; i < HEAD; i++) head[i] = ((uint8_t *)base)[i] ^ mask[i];
  put(shadow, head, HEAD);
  static uint8_t touched[GPUMEM_MAX_SLOTS];
  static int touched_list[GPUMEM_MAX_SLOTS];
  int ntouched = 0, arrays = 0;
  for (; end - rec >= 11; rec += 11) {
    unsigned slot = (unsigned)(rec[0] | rec[1] << 8), f = rec[2];
    uint64_t v = le64(rec + 3);
    uint32_t v32 = (uint32_t)v;
    if (slot >= GPUMEM_MAX_SLOTS) {
      arrays = 1;
      if (slot & 1) {
        f %= 128;
        put(f < 64 ? &shadow->peak[f] : &shadow->refused[f - 64], &v, 8);
        continue;
      }
      f %= 136;
      if (f < 64) put(&shadow->used[f], &v, 8);
      else if (f < 128) put(&shadow->context_estimate[f - 64], &v, 8);
      else put(&shadow->lock.bytes[(f - 128) * 8], &v, 8);
      continue;
    }
    struct gpumem_slot *s = &shadow->slots[slot];
    if (!touched[slot]) touched[slot] = 1, touched_list[ntouched++] = (int)slot;
    f %= 131;
    if (f < 64) put(&s->used[f], &v, 8);
    else if (f < 128) put(&s->driver[f - 64], &v, 8);
    else if (f == 128) put(&s->pid, &v32, 4);
    else if (f == 129) put(&s->flags, &v32, 4);
    else put(&s->start_time, &v, 8);
  }
  const char *path = good;
  if (shape == 10) CHECK(ftruncate(fd, (off_t)(REGION - k)) == 0, "cut");
  if (shape == 11) CHECK(ftruncate(fd, (off_t)(REGION + k)) == 0, "grow");
  if (shape == 12) CHECK(ftruncate(fd, (off_t)HEAD) == 0, "cut to the header");
  if (shape == 13) CHECK(ftruncate(fd, 0) == 0, "empty");
  if (shape == 14) path = fifo;
  if (shape == 15) path = k % 2 ? link_ : subdir;
  int ok = shape < 10 && header_good(shadow);

  /* What the host reads. */
  struct errbuf e;
  char *err = errbuf_prime(&e, errlen);
  struct gpumem_usage u;
  int rc = gpumem_accounting_read(path, &u, err, errlen);
  if (!ok) {
    check_failed(rc, &e, path, "read");
  } else {
    CHECK(rc == 0, "read refused a good region: %s", errlen ? e.bytes : "");
    CHECK(memcmp(u.used, shadow->used, sizeof u.used) == 0, "per-GPU totals misreported");
    CHECK(memcmp(u.refused, shadow->refused, sizeof u.refused) == 0, "refusal counts misreported");
    for (int g = 0; g < GPUMEM_MAX_GPUS; g++) {
      uint64_t p = shadow->peak[g] > shadow->used[g] ? shadow->peak[g] : shadow->used[g];
      CHECK(u.peak[g] == p, "peak of GPU %d: %llu, the region says %llu (held %llu)", g,
            (unsigned long long)u.peak[g], (unsigned long long)shadow->peak[g],
            (unsigned long long)shadow->used[g]);
    }
    int live = 0, unseen = 0;
    uint64_t driver[GPUMEM_MAX_GPUS] = {0};
    for (int t = 0; t < ntouched; t++) {
      const struct gpumem_slot *s = &shadow->slots[touched_list[t]];
      if (s->pid <= 0) continue;
      live++;
      unseen += (s->flags & GPUMEM_SLOT_DRIVER_UNSEEN) != 0;
      for (int g = 0; g < GPUMEM_MAX_GPUS; g++) {
        unsigned __int128 sum = (unsigned __int128)driver[g] + (s->driver[g] < s->used[g] ? s->driver[g] : s->used[g]);
        driver[g] = sum > UINT64_MAX ? UINT64_MAX : (uint64_t)sum;
      }
    }
    CHECK(u.slots_used == live && u.driver_unseen == unseen, "processes %d/%d, the region has %d/%d",
          u.slots_used, u.driver_unseen, live, unseen);
    CHECK(memcmp(u.driver, driver, sizeof driver) == 0, "driver-taken totals misreported");
  }
  if ((data[0] & 48) == 48) {
    uint64_t used[GPUMEM_MAX_GPUS];
    int slots = -1, n = (int)(k % (GPUMEM_MAX_GPUS + 1));
    rc = gpumem_accounting_read_usage(path, used, n, &slots, errbuf_prime(&e, errlen), errlen);
    if (!ok) check_failed(rc, &e, path, "read_usage");
    else CHECK(rc == 0 && slots == u.slots_used && memcmp(used, u.used, 8 * (size_t)n) == 0, "read_usage differs");
  }

  /* The generation: read, bumped by one, and nothing else of the header changed. */
  uint64_t gen = 0, gen2 = 0;
  rc = gpumem_accounting_read_generation(path, &gen, errbuf_prime(&e, errlen), errlen);
  if (!ok) check_failed(rc, &e, path, "read_generation");
  else CHECK(rc == 0 && gen == shadow->generation, "generation misreported");
  rc = gpumem_accounting_bump_generation(path, errbuf_prime(&e, errlen), errlen);
  if (!ok) {
    check_failed(rc, &e, path, "bump_generation");
  } else {
    CHECK(rc == 0 && gpumem_accounting_read_generation(path, &gen2, NULL, 0) == 0 && gen2 == gen + 1,
          "bump: %llu -> %llu", (unsigned long long)gen, (unsigned long long)gen2);
  }
  uint8_t after[HEAD];
  CHECK(pread(fd, after, HEAD, 0) == (ssize_t)(shape == 13 ? 0 : HEAD), "read the header back");
  if (shape != 13) {
    memcpy(after + offsetof(struct gpumem_region, generation), head + offsetof(struct gpumem_region, generation), 8);
    CHECK(memcmp(after, head, HEAD) == 0, "the host changed the header beyond the generation");
  }

  /* Back to the region as created, for the next input. A cut dropped the pages past it (they
   * come back zero, as the slots are in base); the mapping is only touched at full size. */
  if (shape >= 10 && shape <= 13) {
    CHECK(ftruncate(fd, (off_t)REGION) == 0, "restore size");
    arrays = 1;
  }
  put(shadow, base, HEAD);
  if (arrays) put((char *)shadow + ARRAYS_AT, (char *)base + ARRAYS_AT, ARRAYS_LEN);
  for (int t = 0; t < ntouched; t++) {
    int i = touched_list[t];
    touched[i] = 0;
    put(&shadow->slots[i], &base->slots[i], sizeof base->slots[i]);
  }
  return 0;
}
