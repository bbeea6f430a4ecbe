/* The fakes' comma-separated settings (FAKE_NVML_DEVICE_MEMS, FAKE_NVML_MINORS), read one way by
 * the fake driver and the fake NVML alike, so both see the same host. */
#ifndef GPUMEM_FAKE_LIST_H
#define GPUMEM_FAKE_LIST_H

#include <stddef.h>
#include <stdint.h>

/* The i-th item of the list in variable name into item (NUL-terminated); 0 when there is none (or
 * it does not fit in cap). */
int fake_list_item(const char *name, unsigned int i, char *item, size_t cap);

/* How many items the list in variable name has (0 when unset). */
unsigned int fake_list_count(const char *name);

/* The i-th size of FAKE_NVML_DEVICE_MEMS into *v: 1, or 0 when missing or not a size. */
int fake_listed_size(unsigned int i, uint64_t *v);

#endif
