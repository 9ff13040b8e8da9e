/* tools/test-parts/malloc/hello.c — compiled by gcc running under kheap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node { struct node* next; int value; };

static int cmp(const void* a, const void* b) { return *(const int*)a - *(const int*)b; }

int main(void) {
  int v[1000];
  for (int i = 0; i < 1000; ++i) v[i] = (i * 7919) % 1009;
  qsort(v, 1000, sizeof v[0], cmp);
  struct node* head = NULL;
  for (int i = 0; i < 1000; i += 3) {
    struct node* n = malloc(sizeof *n);
    n->value = v[i];
    n->next = head;
    head = n;
  }
  long sum = 0;
  while (head) { struct node* n = head; sum = sum * 31 % 1000003 + n->value; head = n->next; free(n); }
  char buf[64];
  snprintf(buf, sizeof buf, "hello from kheap-compiled code: %ld", sum);
  puts(buf);
  return (int)strlen(buf) == 0;
}
