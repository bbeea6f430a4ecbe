/* Implements gpumem_host.h on top of the shared format code, checking every argument from FFI. */
#include "gpumem_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>

#include "../format/accounting_reader.h"
#include "../format/region_fs.h"
#include "../format/config.h"
#include "../format/limit.h"
#include "../format/quote.h"
#include "../format/size.h"

#define EXPORT __attribute__((visibility("default")))

static int bad_args(char *err, int errlen, const char *what)
{
  if (err && errlen > 0) snprintf(err, (size_t)errlen, "invalid arguments: %s", what);
  return -1;
}

/* uuids[i] into cfg->uuid[i]: "" = none; else one UUID, never one an earlier index has. */
static int take_uuids(struct gpumem_config *cfg, const char *uuids, int n, char *err, int errlen)
{
  for (int i = 0; uuids && i < n; i++) {
    const char *u = uuids + (size_t)i * GPUMEM_UUID_ENTRY_BYTES;
    size_t len = strnlen(u, GPUMEM_UUID_ENTRY_BYTES);
    if (len == GPUMEM_UUID_ENTRY_BYTES)
      return bad_args(err, errlen, "a uuids entry is not NUL-terminated within 96 bytes");
    if (len == 0) continue;
    struct gpumem_uuid parsed;
    char q[GPUMEM_QUOTE_MAX];
    if (gpumem_uuid_parse(u, len, &parsed) != 0) {
      gpumem_quote(q, sizeof q, u, len, GPUMEM_QUOTE_VALUE);
      if (err && errlen > 0)
        snprintf(err, (size_t)errlen, "uuid of GPU %d, %s, is not a GPU UUID (accepted: GPU- or "
                 "MIG- and 8-4-4-4-12 hex digits, as nvidia-smi -L prints)", i, q);
      return -1;
    }
    int earlier = gpumem_config_uuid_index(cfg, parsed.bytes);
    if (earlier >= 0) {
      gpumem_quote(q, sizeof q, u, len, GPUMEM_QUOTE_VALUE);
      if (err && errlen > 0)
        snprintf(err, (size_t)errlen, "uuid of GPU %d, %s, is GPU %d's too: one GPU is one index", i,
                 q, earlier);
      return -1;
    }
    cfg->uuid[i] = parsed;
  }
  return 0;
}

EXPORT int gpumem_config_write(const char *path, uint64_t limit_all,
                               const uint64_t *limit_per_gpu, const char *uuids, int n, char *err,
                               int errlen)
{
  if (!path || !*path) return bad_args(err, errlen, "path is empty");
  if (n < 0 || n > GPUMEM_MAX_GPUS || (n > 0 && !limit_per_gpu))
    return bad_args(err, errlen, "n must be 0..64 with a limit_per_gpu array");
  struct gpumem_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.limit_all = limit_all;
  for (int i = 0; i < n; i++) cfg.limit_per_gpu[i] = limit_per_gpu[i];
  if (limit_all > (UINT64_C(1) << 63)) return bad_args(err, errlen, "limit over 2^63 bytes");
  for (int i = 0; i < n; i++)
    if (limit_per_gpu[i] > (UINT64_C(1) << 63)) return bad_args(err, errlen, "limit over 2^63 bytes");
  if (take_uuids(&cfg, uuids, n, err, errlen)) return -1;
  return gpumem_config_store(path, &cfg, err, errlen);
}

/* The container's processes read the config only when the region's generation changes, so the
 * file is replaced first (atomic rename: a reader sees the old or the new file, never half) and
 * the generation bumped after: whoever sees the new generation reads the new file. */
EXPORT int gpumem_budget_update(const char *config_path, const char *accounting_path,
                                uint64_t limit_all, const uint64_t *limit_per_gpu,
                                const char *uuids, int n, char *err, int errlen)
{
  if (!accounting_path || !*accounting_path) return bad_args(err, errlen, "accounting path is empty");
  if (gpumem_config_write(config_path, limit_all, limit_per_gpu, uuids, n, err, errlen)) return -1;
  return gpumem_accounting_bump_generation(accounting_path, err, errlen);
}

EXPORT int gpumem_config_read(const char *path, uint64_t *limit_all, uint64_t *limit_per_gpu,
                              char *uuids, int n, char *err, int errlen)
{
  if (!path || !*path) return bad_args(err, errlen, "path is empty");
  if (!limit_all || n < 0 || n > GPUMEM_MAX_GPUS || (n > 0 && !limit_per_gpu))
    return bad_args(err, errlen, "n must be 0..64 with a limit_per_gpu array");
  struct gpumem_config cfg;
  int rc = gpumem_config_load(path, &cfg, err, errlen);
  if (rc == 1) {
    if (err && errlen > 0) snprintf(err, (size_t)errlen, "%s does not exist", path);
    return -1;
  }
  if (rc) return -1;
  *limit_all = cfg.limit_all;
  for (int i = 0; i < n; i++) limit_per_gpu[i] = cfg.limit_per_gpu[i];
  for (int i = 0; uuids && i < n; i++) {
    char *u = uuids + (size_t)i * GPUMEM_UUID_ENTRY_BYTES;
    u[0] = '\0';
    if (cfg.uuid[i].kind != GPUMEM_UUID_NONE) gpumem_uuid_format(&cfg.uuid[i], u, GPUMEM_UUID_ENTRY_BYTES);
  }
  return 0;
}

EXPORT int gpumem_accounting_create(const char *path, char *err, int errlen)
{
  if (!path || !*path) return bad_args(err, errlen, "path is empty");
  return gpumem_accounting_create_file(path, 1, err, errlen);
}

EXPORT int gpumem_region_storage_mount(const char *dir, char *err, int errlen)
{
  if (!dir || !*dir) return bad_args(err, errlen, "directory is empty");
  return gpumem_region_fs_mount(dir, err, errlen);
}

EXPORT int gpumem_region_storage_unmount(const char *dir, char *err, int errlen)
{
  if (!dir || !*dir) return bad_args(err, errlen, "directory is empty");
  if (gpumem_region_fs_unmount(dir) == 0) return 0;
  if (err && errlen > 0) snprintf(err, (size_t)errlen, "cannot unmount %s: %s", dir, strerror(errno));
  return -1;
}

EXPORT int gpumem_accounting_generation(const char *path, uint64_t *generation, char *err,
                                        int errlen)
{
  if (!path || !*path) return bad_args(err, errlen, "path is empty");
  if (!generation) return bad_args(err, errlen, "generation is NULL");
  return gpumem_accounting_read_generation(path, generation, err, errlen);
}

EXPORT int gpumem_accounting_bump(const char *path, char *err, int errlen)
{
  if (!path || !*path) return bad_args(err, errlen, "path is empty");
  return gpumem_accounting_bump_generation(path, err, errlen);
}

EXPORT int gpumem_accounting_usage(const char *path, uint64_t *used_per_gpu, int n,
                                   int *live_processes, char *err, int errlen)
{
  if (!path || !*path) return bad_args(err, errlen, "path is empty");
  return gpumem_accounting_read_usage(path, used_per_gpu, n, live_processes, err, errlen);
}

EXPORT int gpumem_accounting_report(const char *path, uint64_t *used_per_gpu,
                                    uint64_t *driver_per_gpu, uint64_t *peak_per_gpu,
                                    uint64_t *refused_per_gpu, int n, int *live_processes,
                                    int *unseen_processes, char *err, int errlen)
{
  if (!path || !*path) return bad_args(err, errlen, "path is empty");
  if (n < 0 || n > GPUMEM_MAX_GPUS || (n > 0 && (!used_per_gpu || !driver_per_gpu)))
    return bad_args(err, errlen, "n must be 0..64 with the used and driver buffers");
  struct gpumem_usage u;
  int rc = gpumem_accounting_read(path, &u, err, errlen);
  if (!rc) {
    for (int g = 0; g < n; g++) {
      used_per_gpu[g] = u.used[g];
      driver_per_gpu[g] = u.driver[g];
      if (peak_per_gpu) peak_per_gpu[g] = u.peak[g];
      if (refused_per_gpu) refused_per_gpu[g] = u.refused[g];
    }
    if (live_processes) *live_processes = u.slots_used;
    if (unseen_processes) *unseen_processes = u.driver_unseen;
  }
  return rc;
}

EXPORT int gpumem_accounting_processes(const char *path, int32_t *pids, int32_t *unseen,
                                       uint64_t *used, uint64_t *driver, int max, int n,
                                       int *count, char *err, int errlen)
{
  if (!path || !*path) return bad_args(err, errlen, "path is empty");
  if (!count || max < 0 || max > GPUMEM_MAX_SLOTS || n < 0 || n > GPUMEM_MAX_GPUS ||
      (max > 0 && (!pids || !unseen || (n > 0 && (!used || !driver)))))
    return bad_args(err, errlen, "max must be 0..1024 and n 0..64 with their buffers");
  struct gpumem_process *p = max > 0 ? calloc((size_t)max, sizeof *p) : NULL;
  if (max > 0 && !p) return bad_args(err, errlen, "out of memory");
  int rc = gpumem_accounting_read_processes(path, p, max, count, err, errlen);
  if (!rc) {
    for (int i = 0; i < max && i < *count; i++) {
      pids[i] = p[i].pid;
      unseen[i] = p[i].driver_unseen;
      for (int g = 0; g < n; g++) {
        used[(size_t)i * (size_t)n + (size_t)g] = p[i].used[g];
        driver[(size_t)i * (size_t)n + (size_t)g] = p[i].driver[g];
      }
    }
  }
  free(p);
  return rc;
}

EXPORT int gpumem_parse_size(const char *text, uint64_t *bytes, char *err, int errlen)
{
  if (!bytes) return bad_args(err, errlen, "bytes is NULL");
  return gpumem_size_parse(text, bytes, err, errlen);
}

/* A limit crosses FFI as GPUMEM_LIMIT_WORDS plain words (gpumem_host.h), never as a struct. */
static void limit_to_words(const struct gpumem_limit *l, uint64_t *w)
{
  w[0] = l->bytes;
  w[1] = l->percent_num;
  w[2] = l->percent_den;
}

EXPORT int gpumem_parse_limit(const char *what, const char *text, uint64_t *limit, char *err,
                              int errlen)
{
  if (!limit) return bad_args(err, errlen, "limit is NULL");
  struct gpumem_limit l;
  int rc = gpumem_limit_parse(what, text, &l, err, errlen);
  limit_to_words(&l, limit);
  return rc;
}

EXPORT int gpumem_env_limits(const char *const *env, int n, uint64_t *limits, int *found,
                             char *err, int errlen)
{
  if (!limits || !found || (n > 0 && !env)) return bad_args(err, errlen, "NULL array");
  struct gpumem_env_limits e;
  int rc = gpumem_limit_env(env, n, &e, err, errlen);
  if (rc < 0) return -1;
  for (int i = 0; i < GPUMEM_MAX_GPUS; i++)
    limit_to_words(&e.per_gpu[i], limits + i * GPUMEM_LIMIT_WORDS);
  limit_to_words(&e.all, limits + GPUMEM_MAX_GPUS * GPUMEM_LIMIT_WORDS);
  *found = rc;
  return 0;
}

EXPORT int gpumem_percent_bytes(const char *what, const uint64_t *limit, int gpu,
                                uint64_t gpu_total, uint64_t *bytes, char *err, int errlen)
{
  if (!limit || !bytes) return bad_args(err, errlen, "NULL pointer");
  struct gpumem_limit l = {limit[0], limit[1], limit[2]};
  return gpumem_limit_percent_bytes(what, &l, gpu, gpu_total, bytes, err, errlen);
}

EXPORT int gpumem_quote_text(const char *text, uint64_t len, int mode, char *out, int outlen)
{
  if (!out || outlen <= 0 || (!text && len > 0) || mode < GPUMEM_QUOTE_VALUE || mode > GPUMEM_QUOTE_LINE)
    return -1;
  return (int)gpumem_quote(out, (size_t)outlen, text, (size_t)len, (enum gpumem_quote_mode)mode);
}
