/* tools/test-parts/malloc/badfree.c — frees a pointer the allocator never
 * handed out (argv[1]: "foreign", "interior" or "double"). kheap must report it
 * ("kheap: invalid free" / "kheap: double free") and abort, or, with
 * KHEAP_ON_ERROR=continue, refuse it and go on (this prints "survived"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char not_heap[64];

int main(int argc, char** argv) {
  const char* what = argc > 1 ? argv[1] : "foreign";
  char* p = malloc(100);
  char* volatile victim = p;
  if (!strcmp(what, "foreign")) victim = not_heap + 16;
  else if (!strcmp(what, "interior")) victim = p + 8;
  else free(p); /* double */
  free(victim);
  char* q = malloc(100); /* the heap still works */
  strcpy(q, "survived");
  puts(q);
  return 0;
}
