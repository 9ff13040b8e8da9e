// tools/test-parts/malloc/threads.cpp — 4 threads of malloc/free churn with
// cross-thread frees, through malloc/free and through C++ new/delete and the
// standard containers. Each block carries its size and a pattern derived from
// its (thread, sequence) tag; whoever frees it checks the pattern and adds the
// tag to a checksum, so the checksum depends only on the program, not on the
// scheduling or the allocator. A fork() while the threads run checks that the
// child gets a usable heap (pthread_atfork). Prints "threads: checksum C, N
// blocks, M corrupt"; exit status 1 on any corruption.
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 4;
constexpr int kOps = 200000;

struct Header {
  uint64_t tag;
  uint32_t size;
};

std::atomic<uint64_t> g_checksum{0};
std::atomic<uint64_t> g_blocks{0};
std::atomic<uint64_t> g_corrupt{0};

std::mutex g_mailbox_lock[kThreads];
std::vector<void*> g_mailbox[kThreads];  // blocks for thread i to free

unsigned char pattern(uint64_t tag, size_t i) { return static_cast<unsigned char>(tag * 31 + i * 7); }

void* make_block(uint64_t tag, size_t size) {
  auto* h = static_cast<Header*>(malloc(size));
  if (!h) abort();
  h->tag = tag;
  h->size = static_cast<uint32_t>(size);
  auto* b = reinterpret_cast<unsigned char*>(h);
  for (size_t i = sizeof(Header); i < size; ++i) b[i] = pattern(tag, i);
  return h;
}

void check_free(void* p) {
  auto* h = static_cast<Header*>(p);
  auto* b = static_cast<unsigned char*>(p);
  bool ok = h->size >= sizeof(Header);
  for (size_t i = sizeof(Header); ok && i < h->size; ++i) ok = b[i] == pattern(h->tag, i);
  if (!ok) ++g_corrupt;
  g_checksum += h->tag;
  ++g_blocks;
  free(p);
}

void worker(int id) {
  uint64_t rng = 0x1234567 + static_cast<uint64_t>(id) * 77777;
  auto next = [&] {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
  };
  std::vector<void*> mine;
  std::map<int, std::string> strings;  // C++ containers: operator new/delete
  for (int op = 0; op < kOps; ++op) {
    uint64_t r = next();
    size_t size = sizeof(Header) + (r % 8 == 0 ? r % 20000 : r % 300);
    uint64_t tag = (static_cast<uint64_t>(id) << 32) | static_cast<uint64_t>(op);
    mine.push_back(make_block(tag, size));
    if (mine.size() > 2000 || r % 3 == 0) {
      size_t k = (r >> 20) % mine.size();
      void* p = mine[k];
      mine[k] = mine.back();
      mine.pop_back();
      if (r % 5 == 0) {  // hand it to another thread to free
        int to = static_cast<int>((static_cast<uint64_t>(id) + 1 + (r >> 40) % (kThreads - 1)) % kThreads);
        std::lock_guard<std::mutex> g(g_mailbox_lock[to]);
        g_mailbox[to].push_back(p);
      } else {
        check_free(p);
      }
    }
    if (op % 64 == 0) {
      std::vector<void*> in;
      {
        std::lock_guard<std::mutex> g(g_mailbox_lock[id]);
        in.swap(g_mailbox[id]);
      }
      for (void* p : in) check_free(p);
      strings[op % 500] = std::string(static_cast<size_t>(r % 200), static_cast<char>('a' + op % 26));
      auto arr = std::make_unique<uint64_t[]>(static_cast<size_t>(r % 1000) + 1);
      arr[0] = tag;
      if (arr[0] != tag) ++g_corrupt;
    }
  }
  for (void* p : mine) check_free(p);
}

}  // namespace

int main() {
  // operator new reaches the malloc in use (under kheap, malloc_usable_size
  // of a pointer kheap did not hand out would be reported and abort).
  auto* cxx = new char[5000];
  bool new_ok = malloc_usable_size(cxx) >= 5000;
  delete[] cxx;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(worker, i);
  // fork while the threads allocate: the child must not inherit a held lock.
  usleep(20000);
  pid_t pid = fork();
  if (pid == 0) {
    alarm(20);  // a deadlock would show as SIGALRM
    std::vector<std::string> v;
    for (int i = 0; i < 10000; ++i) v.emplace_back(static_cast<size_t>(i % 300), 'x');
    void* p = malloc(12345);
    free(p);
    _exit(v.size() == 10000 ? 0 : 1);
  }
  int status = -1;
  waitpid(pid, &status, 0);
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i)
    for (void* p : g_mailbox[i]) check_free(p);
  bool fork_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  printf("threads: checksum %llu, %llu blocks, %llu corrupt, fork child %s, operator new %s\n",
         static_cast<unsigned long long>(g_checksum.load()), static_cast<unsigned long long>(g_blocks.load()),
         static_cast<unsigned long long>(g_corrupt.load()), fork_ok ? "ok" : "FAILED", new_ok ? "ok" : "FAILED");
  return g_corrupt.load() == 0 && fork_ok && new_ok ? 0 : 1;
}
