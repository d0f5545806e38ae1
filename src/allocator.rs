//! The process's memory allocator: mimalloc, under an optional bound on how far the heap may
//! grow.
//!
//! mimalloc rather than glibc's malloc because a fire makes a few hundred short-lived
//! allocations, and a burst of scheduled fires frees hundreds of thousands of them at once:
//! glibc spent about a seventh of the token trigger's CPU and half of the burst's scheduler
//! thread in `malloc`, `free` and their consolidation of free lists (BENCHMARKS.md, issue 15).
//!
//! The bound is how the render worker keeps a hostile template's memory in check. It cannot be
//! an address-space limit (`RLIMIT_AS`) under mimalloc, which reserves address space ahead and
//! then hands out memory inside it, past any limit set afterwards. So the allocator itself
//! counts: once [`bound_heap_growth`] is called, an allocation that would take the heap more
//! than the given number of bytes past its size at that moment fails, and Rust aborts the
//! process ("memory allocation of N bytes failed"), as it would on a failed `mmap`. Until then
//! the count costs one atomic load per allocation and per free.
//!
//! Declared in the library, so that every binary linking it (hookd, its tests and benchmarks)
//! allocates as the service does.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

use mimalloc::MiMalloc;

#[global_allocator]
static ALLOCATOR: Bounded = Bounded;

/// Whether [`bound_heap_growth`] was called.
static BOUNDED: AtomicBool = AtomicBool::new(false);

/// Bytes the heap may still grow by; frees give them back. Signed because memory allocated
/// before the bound and freed after it gives back bytes that were never taken.
static HEADROOM: AtomicIsize = AtomicIsize::new(0);

/// From now on, fails every allocation that would take the heap more than `bytes` past its
/// current size. Meant to be called once, early, by a process that runs untrusted work (the
/// render worker); a later call sets a new bound from that moment.
pub fn bound_heap_growth(bytes: usize) {
    HEADROOM.store(
        isize::try_from(bytes).unwrap_or(isize::MAX),
        Ordering::Relaxed,
    );
    BOUNDED.store(true, Ordering::Release);
}

/// mimalloc, counting against [`HEADROOM`] once bounded.
struct Bounded;

impl Bounded {
    /// Takes `bytes` of headroom; `false` when there is not that much left.
    fn take(bytes: usize) -> bool {
        if !BOUNDED.load(Ordering::Acquire) {
            return true;
        }
        let bytes = isize::try_from(bytes).unwrap_or(isize::MAX);
        if HEADROOM.fetch_sub(bytes, Ordering::Relaxed) >= bytes {
            return true;
        }
        HEADROOM.fetch_add(bytes, Ordering::Relaxed);
        false
    }

    /// Gives `bytes` of headroom back (memory freed, or an allocation that failed).
    fn give_back(bytes: usize) {
        if BOUNDED.load(Ordering::Acquire) {
            HEADROOM.fetch_add(
                isize::try_from(bytes).unwrap_or(isize::MAX),
                Ordering::Relaxed,
            );
        }
    }

    /// Runs `allocate` if `bytes` of headroom can be taken, else returns null; an allocation
    /// that fails gives them back.
    fn within_bound(bytes: usize, allocate: impl FnOnce() -> *mut u8) -> *mut u8 {
        if !Self::take(bytes) {
            return std::ptr::null_mut();
        }
        let ptr = allocate();
        if ptr.is_null() {
            Self::give_back(bytes);
        }
        ptr
    }
}

// SAFETY: every call goes to mimalloc with the caller's arguments unchanged, or fails by
// returning null before reaching it, which the `GlobalAlloc` contract allows.
unsafe impl GlobalAlloc for Bounded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which mimalloc's shares.
        Self::within_bound(layout.size(), || unsafe { MiMalloc.alloc(layout) })
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        Self::within_bound(layout.size(), || unsafe { MiMalloc.alloc_zeroed(layout) })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from mimalloc, with `layout`.
        unsafe { MiMalloc.dealloc(ptr, layout) };
        Self::give_back(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grows_by = new_size.saturating_sub(layout.size());
        // SAFETY: as for `dealloc`; the caller upholds `realloc`'s contract for `new_size`.
        let new = Self::within_bound(grows_by, || unsafe {
            MiMalloc.realloc(ptr, layout, new_size)
        });
        if !new.is_null() {
            Self::give_back(layout.size().saturating_sub(new_size));
        }
        new
    }
}
