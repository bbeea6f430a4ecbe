/* The fakes' comma-separated settings (fake_list.h); compiled into both fake libraries. */
#include "fake_list.h"

#include <stdlib.h>
#include <string.h>

#include "../src/format/size.h"

int fake_list_item(const char *name, unsigned int i, char *item, size_t cap)
{
  const char *s = getenv(name);
  for (unsigned int n = 0; s && *s; n++) {
    size_t len = strcspn(s, ",");
    if (n == i) {
      if (len >= cap) return 0;
      memcpy(item, s, len);
      item[len] = '\0';
      return 1;
    }
    s += len + (s[len] == ',');
  }
  return 0;
}

unsigned int fake_list_count(const char *name)
{
  const char *s = getenv(name);
  unsigned int n = 0;
  for (; s && *s; n++) {
    size_t len = strcspn(s, ",");
    s += len + (s[len] == ',');
  }
  return n;
}

int fake_listed_size(unsigned int i, uint64_t *v)
{
  char item[64];
  return fake_list_item("FAKE_NVML_DEVICE_MEMS", i, item, sizeof item) && gpumem_size_parse(item, v, NULL, 0) == 0;
}
