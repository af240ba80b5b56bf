//! A bounded blocking queue on a mutex and two condition variables.
//!
//! The backup pipeline hands over hundreds of thousands of small items. Channel implementations
//! that spin and then `sched_yield` while waiting give their CPU away on a busy machine (a
//! benchmark on 2 shared cores counted 89 000 yields for one backup); this queue sleeps in the
//! kernel instead. One side closes for sending ([`Queue::close_send`]) when it is done, the other
//! for receiving ([`Queue::close_recv`]) when it stops early, which fails pending and later pushes.
//! A push or pop wakes the other side only when a thread is waiting there (a condition variable's
//! notify is a system call even when nobody waits).

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// A bounded multi-producer, multi-consumer queue.
pub struct Queue<T> {
    state: Mutex<State<T>>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
}

struct State<T> {
    items: VecDeque<T>,
    send_closed: bool,
    recv_closed: bool,
    /// Threads waiting in `pop` (queue empty) and in `push` (queue full).
    waiting_pop: usize,
    waiting_push: usize,
}

impl<T> Queue<T> {
    /// A queue holding at most `capacity` items (at least 1).
    pub fn new(capacity: usize) -> Self {
        Queue {
            state: Mutex::new(State {
                items: VecDeque::with_capacity(capacity.max(1)),
                send_closed: false,
                recv_closed: false,
                waiting_pop: 0,
                waiting_push: 0,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `item`, waiting while the queue is full. Gives the item back when the receiving side
    /// has closed.
    ///
    /// # Errors
    /// The item, when nobody will receive it.
    pub fn push(&self, item: T) -> Result<(), T> {
        let mut s = self.lock();
        while s.items.len() >= self.capacity && !s.recv_closed {
            s.waiting_push += 1;
            s = self
                .not_full
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
            s.waiting_push -= 1;
        }
        if s.recv_closed {
            return Err(item);
        }
        s.items.push_back(item);
        let wake = s.waiting_pop > 0;
        drop(s);
        if wake {
            self.not_empty.notify_one();
        }
        Ok(())
    }

    /// Takes the next item, waiting while the queue is empty; `None` once the sending side has
    /// closed and everything was taken.
    pub fn pop(&self) -> Option<T> {
        let mut s = self.lock();
        loop {
            if let Some(item) = s.items.pop_front() {
                let wake = s.waiting_push > 0;
                drop(s);
                if wake {
                    self.not_full.notify_one();
                }
                return Some(item);
            }
            if s.send_closed || s.recv_closed {
                return None;
            }
            s.waiting_pop += 1;
            s = self
                .not_empty
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
            s.waiting_pop -= 1;
        }
    }

    /// No more items will be pushed.
    pub fn close_send(&self) {
        self.lock().send_closed = true;
        self.not_empty.notify_all();
    }

    /// No more items will be taken: drops what is queued and fails pushes.
    pub fn close_recv(&self) {
        let dropped = {
            let mut s = self.lock();
            s.recv_closed = true;
            std::mem::take(&mut s.items)
        };
        drop(dropped);
        self.not_full.notify_all();
        self.not_empty.notify_all();
    }
}

/// Closes the sending side of a queue when dropped (also on early return or panic).
pub struct SendCloser<'a, T>(pub &'a Queue<T>);

impl<T> Drop for SendCloser<'_, T> {
    fn drop(&mut self) {
        self.0.close_send();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_items_in_order_and_ends() {
        let q = Queue::new(2);
        std::thread::scope(|s| {
            s.spawn(|| {
                let _c = SendCloser(&q);
                for i in 0..100 {
                    q.push(i).unwrap();
                }
            });
            let got: Vec<i32> = std::iter::from_fn(|| q.pop()).collect();
            assert_eq!(got, (0..100).collect::<Vec<_>>());
        });
    }

    #[test]
    fn closing_the_receiver_fails_blocked_pushes() {
        let q = Queue::new(1);
        std::thread::scope(|s| {
            let pusher = s.spawn(|| {
                q.push(1).unwrap();
                q.push(2) // blocks: full
            });
            std::thread::sleep(std::time::Duration::from_millis(20));
            q.close_recv();
            assert_eq!(pusher.join().unwrap(), Err(2));
        });
        assert_eq!(q.pop(), None);
    }
}
