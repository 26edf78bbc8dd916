//! Live heap bytes in the wasm build: the system allocator wrapped with a counter, so the app can
//! show how much memory each loaded model holds (the linear memory only ever grows, so its size
//! says nothing about what is in use). wasm32 is single-threaded here; relaxed atomics suffice.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg_attr(test, allow(dead_code))]
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` with the same arguments; the counter only observes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

// Not in test builds: the format tests install an allocator probe of their own (the count then
// stays 0).
#[cfg(not(test))]
#[global_allocator]
static GLOBAL: Counting = Counting;

/// Bytes currently allocated on the Rust heap.
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Runs `f` and returns its result with the heap bytes it left allocated (what a loaded model
/// holds: its temporary buffers are freed by then).
#[cfg(feature = "scan")]
pub fn held_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = live_bytes();
    let r = f();
    (r, live_bytes().saturating_sub(before))
}
