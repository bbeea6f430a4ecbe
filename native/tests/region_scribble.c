/* Writes one header field of an accounting region in place, by name, as a process in the
 * container could: the tests' scribbles take the layout from accounting.h, never an offset.
 * usage: region-scribble <path> <field> <value>   (field: version, max_slots, generation, ...) */
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

int main(int argc, char **argv)
{
  if (argc != 4) return fprintf(stderr, "usage: region-scribble <path> <field> <value>\n"), 2;
  uint64_t value = strtoull(argv[3], NULL, 0);
  for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
    if (strcmp(fields[i].name, argv[2]) != 0) continue;
    uint32_t narrow = (uint32_t)value;
    const void *bytes = fields[i].size == 4 ? (const void *)&narrow : (const void *)&value;
    int fd = open(argv[1], O_WRONLY);
    int ok = fd >= 0 && pwrite(fd, bytes, fields[i].size, (off_t)fields[i].offset) ==
                          (ssize_t)fields[i].size;
    if (fd >= 0) close(fd);
    if (!ok) perror(argv[1]);
    return ok ? 0 : 1;
  }
  fprintf(stderr, "region-scribble: no header field %s\n", argv[2]);
  return 2;
}
