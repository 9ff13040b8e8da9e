// lib/core/list.h — an intrusive, circular, doubly-linked list.
//
// The node lives inside the object (`ListNode link;`), so linking never
// allocates. An unlinked node points at itself; a List is a sentinel node.
// Invariant: for every node n in a list, n->next->prev == n && n->prev->next == n.
#pragma once

#include "core/assert.h"
#include "core/types.h"

namespace kheap {

struct ListNode {
  ListNode* prev = this;
  ListNode* next = this;

  bool is_linked() const { return next != this; }
  void unlink() {
    KHEAP_ASSERT_INTERNAL(next->prev == this && prev->next == this);
    prev->next = next;
    next->prev = prev;
    prev = next = this;
  }
};

// `T` holds a ListNode member named by `Member`.
template <typename T, ListNode T::*Member>
class List {
 public:
  List() = default;
  List(const List&) = delete;
  List& operator=(const List&) = delete;

  bool empty() const { return head_.next == &head_; }
  void reset() { head_.prev = head_.next = &head_; }

  void push_front(T* item) { insert_after(&head_, node(item)); }
  void push_back(T* item) { insert_after(head_.prev, node(item)); }
  void remove(T* item) { node(item)->unlink(); }

  T* front() const { return empty() ? nullptr : owner(head_.next); }
  T* back() const { return empty() ? nullptr : owner(head_.prev); }
  T* pop_front() {
    T* item = front();
    if (item) remove(item);
    return item;
  }
  // The element after `item`, or nullptr at the end.
  T* next(const T* item) const {
    const ListNode* n = &(item->*Member);
    return n->next == &head_ ? nullptr : owner(n->next);
  }

  size_t size() const {
    size_t n = 0;
    for (const ListNode* p = head_.next; p != &head_; p = p->next) ++n;
    return n;
  }

  // Range-for support; do not unlink the current element while iterating
  // (use front()/next() with a saved successor for that).
  class Iterator {
   public:
    Iterator(const ListNode* n) : n_(n) {}
    T* operator*() const { return owner(const_cast<ListNode*>(n_)); }
    Iterator& operator++() {
      n_ = n_->next;
      return *this;
    }
    bool operator!=(const Iterator& o) const { return n_ != o.n_; }

   private:
    const ListNode* n_;
  };
  Iterator begin() const { return Iterator(head_.next); }
  Iterator end() const { return Iterator(&head_); }

  static T* owner(ListNode* n) {
    // offsetof for a pointer-to-member, without <cstddef>'s macro on non-standard-layout types.
    alignas(T) static char probe[sizeof(T)];
    auto* t = reinterpret_cast<T*>(probe);
    auto offset = reinterpret_cast<char*>(&(t->*Member)) - probe;
    return reinterpret_cast<T*>(reinterpret_cast<char*>(n) - offset);
  }

 private:
  static ListNode* node(T* item) { return &(item->*Member); }
  static void insert_after(ListNode* pos, ListNode* n) {
    KHEAP_ASSERT_INTERNAL(!n->is_linked());
    n->prev = pos;
    n->next = pos->next;
    pos->next->prev = n;
    pos->next = n;
  }

  ListNode head_;
};

}  // namespace kheap
