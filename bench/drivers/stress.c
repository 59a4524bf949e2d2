/*
 * stress: the allocator stress test of the test suite (tests/native/stress.c), measured as a
 * workload: THREADS threads doing malloc/calloc/realloc/posix_memalign/aligned_alloc/free on
 * TINY, SMALL and LARGE sizes, every block verified before it is freed, blocks exchanged
 * between threads (under a mutex, and lock-free), threads exiting with live blocks that the next
 * round frees, and a fork per round in the middle of the storm.
 *
 * usage: stress [THREADS [OPS_PER_THREAD [FORKS_PER_ROUND]]]
 * prints: "stress: ok threads=... rounds=... ops=... ..." (the counts after ops= depend on
 * scheduling; the suite's check keeps only the part that does not).
 */
#define STRESS_C_ALIGNMENT 1 /* check the alignment C requires, not FtMalloc's 16 bytes */
#include "../../tests/native/stress.c"
