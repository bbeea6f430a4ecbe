/* Kills a process while it holds the accounting region's lock, mid-update, and checks that the
 * next process recovers: the lock is usable and the totals are rebuilt from the slots. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/format/accounting_ledger.h"
#include "../src/format/liveness.h"

int main(int argc, char **argv)
{
  if (argc != 2) return 2;
  char err[256];
  if (gpumem_accounting_create_file(argv[1], 1, err, sizeof err)) return puts(err), 1;
  struct gpumem_region *r = gpumem_accounting_attach(argv[1], NULL, err, sizeof err);
  if (!r) return puts(err), 1;
  int me = gpumem_accounting_join(r, getpid(), gpumem_process_start_time(getpid()));
  int charged = gpumem_accounting_reserve(r, me, 0, 1000, 4096);
  pid_t child = fork();
  if (child == 0) {
    pthread_mutex_lock(&r->lock.mutex);
    r->used[0] += 999999; /* a total updated, its slot not yet: then killed */
    _exit(0);              /* dies holding the lock */
  }
  waitpid(child, NULL, 0);
  int again = gpumem_accounting_reserve(r, me, 0, 3000, 4096); /* EOWNERDEAD path */
  int over = gpumem_accounting_reserve(r, me, 0, 1000, 4096);  /* 4000 + 1000 > 4096 */
  printf("{\"charged\":%d,\"after_owner_died\":%d,\"over_budget\":%d,\"used\":%llu}\n", charged,
         again, over, (unsigned long long)r->used[0]);
  return 0;
}
