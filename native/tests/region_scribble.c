/* Writes one field of an accounting region in place, by name, as a process in the container
 * could: the tests' scribbles take the layout from accounting.h, never an offset.
 * usage: region-scribble <path> <field> <value>
 *   field: a header field (version, max_slots, generation, ...), used.<gpu> (the per-GPU total),
 *          peak.<gpu>, refused.<gpu> (the per-GPU peak and refusal count),
 *          or slot.<i>.used.<gpu>, slot.<i>.driver.<gpu>, slot.<i>.flags (process slot i) */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/format/accounting.h"

#define FIELD(f) {#f, offsetof(struct gpumem_region, f), sizeof(((struct gpumem_region *)0)->f)}
static const struct {
  const char *name;
  size_t offset, size;
} fields[] = {FIELD(version), FIELD(header_size), FIELD(total_size), FIELD(max_gpus),
              FIELD(max_slots), FIELD(slot_size), FIELD(generation)};

/* An indexed field: its offset and size, or 0 when the name is not one. */
static int indexed(const char *name, size_t *offset, size_t *size)
{
  unsigned i, g;
  char what[16];
  int end = 0;
  const size_t slot0 = offsetof(struct gpumem_region, slots);
  const size_t slot = sizeof(struct gpumem_slot);
  if (sscanf(name, "%15[a-z].%u%n", what, &g, &end) == 2 && !name[end] && g < GPUMEM_MAX_GPUS) {
    size_t f = !strcmp(what, "used")      ? offsetof(struct gpumem_region, used)
               : !strcmp(what, "peak")    ? offsetof(struct gpumem_region, peak)
               : !strcmp(what, "refused") ? offsetof(struct gpumem_region, refused)
                                          : 0;
    if (!f) return 0;
    *offset = f + 8 * g;
    *size = 8;
    return 1;
  }
  if (sscanf(name, "slot.%u.flags%n", &i, &end) == 1 && !name[end] && i < GPUMEM_MAX_SLOTS) {
    *offset = slot0 + i * slot + offsetof(struct gpumem_slot, flags);
    *size = 4;
    return 1;
  }
  if (sscanf(name, "slot.%u.%15[a-z].%u%n", &i, what, &g, &end) == 3 && !name[end] &&
      i < GPUMEM_MAX_SLOTS && g < GPUMEM_MAX_GPUS) {
    size_t f = !strcmp(what, "used") ? offsetof(struct gpumem_slot, used)
               : !strcmp(what, "driver") ? offsetof(struct gpumem_slot, driver)
                                         : 0;
    if (!f) return 0;
    *offset = slot0 + i * slot + f + 8 * g;
    *size = 8;
    return 1;
  }
  return 0;
}

int main(int argc, char **argv)
{
  if (argc != 4) return fprintf(stderr, "usage: region-scribble <path> <field> <value>\n"), 2;
  uint64_t value = strtoull(argv[3], NULL, 0);
  size_t offset = 0, size = 0;
  for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
    if (strcmp(fields[i].name, argv[2]) == 0) offset = fields[i].offset, size = fields[i].size;
  if (!size && !indexed(argv[2], &offset, &size)) {
    fprintf(stderr, "region-scribble: no field %s\n", argv[2]);
    return 2;
  }
  uint32_t narrow = (uint32_t)value;
  const void *bytes = size == 4 ? (const void *)&narrow : (const void *)&value;
  int fd = open(argv[1], O_WRONLY);
  int ok = fd >= 0 && pwrite(fd, bytes, size, (off_t)offset) == (ssize_t)size;
  if (fd >= 0) close(fd);
  if (!ok) perror(argv[1]);
  return ok ? 0 : 1;
}
