//! gatewayd's global allocator: mimalloc, asked for plain blocks whenever
//! their natural alignment is enough.
//!
//! The request path allocates many small, short-lived buffers, and glibc's
//! allocator spends measurably more CPU on them (and contends across worker
//! threads); see bench/RESULTS.md. mimalloc's own Rust wrapper asks for every
//! block through mimalloc's aligned entry points, whose fast path works only
//! while the size class's current page has a free block at hand; otherwise it
//! takes a generic path that may over-allocate to align the block. mimalloc's
//! blocks of 16 bytes or more are 16-byte aligned and smaller ones are
//! aligned to their (power-of-two) size, so the plain entry points serve any
//! layout whose alignment is at most 16 and at most its size — as std's
//! `System` allocator does with `malloc` — and the aligned ones the rest.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};

use libmimalloc_sys as mi;

/// Install with `#[global_allocator] static GLOBAL: Allocator = Allocator;`.
pub struct Allocator;

/// The alignment every mimalloc block of at least this size has.
const MIN_ALIGN: usize = 16;

/// Whether a plain block of `size` bytes is aligned enough for `align`.
fn plain(size: usize, align: usize) -> bool {
    align <= MIN_ALIGN && align <= size
}

/// A new block for `layout`, zeroed if `zero`.
///
/// # Safety
/// As [`GlobalAlloc::alloc`]: `layout` has a non-zero size.
#[inline]
unsafe fn block(layout: Layout, zero: bool) -> *mut u8 {
    let (size, align) = (layout.size(), layout.align());
    // SAFETY: mimalloc's allocation functions take any size and alignment.
    unsafe {
        match (plain(size, align), zero) {
            (true, false) => mi::mi_malloc(size),
            (true, true) => mi::mi_zalloc(size),
            (false, false) => mi::mi_malloc_aligned(size, align),
            (false, true) => mi::mi_zalloc_aligned(size, align),
        }
    }
    .cast()
}

// SAFETY: every block comes from mimalloc and goes back to it (`mi_free`
// frees blocks from either family of entry points), and a block from a plain
// entry point is only handed out where `plain` holds (see the module docs).
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller keeps `alloc`'s contract.
        unsafe { block(layout, false) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe { block(layout, true) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller passes a block this allocator handed out.
        unsafe { mi::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller passes a block this allocator handed out; a
        // block mimalloc moves or keeps in place is as aligned as asked.
        unsafe {
            if plain(new_size, layout.align()) {
                mi::mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// Blocks of every small size and alignment, allocated through the
    /// allocator's own entry points, are aligned, keep what was written to
    /// them when grown or shrunk, and come back zeroed when asked.
    #[test]
    fn blocks_are_aligned_and_keep_their_bytes() {
        use std::alloc::{GlobalAlloc, Layout};
        let a = super::Allocator;
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in (1..300).chain([4095, 4096, 70_000, 1 << 20]) {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; every block is freed with its layout.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    std::ptr::write_bytes(p, 0xab, size);
                    let grown = a.realloc(p, layout, size * 3);
                    assert_eq!(grown as usize % align, 0, "grown {size} align {align}");
                    assert!((0..size).all(|i| *grown.add(i) == 0xab));
                    let bigger = Layout::from_size_align(size * 3, align).unwrap();
                    let shrunk = a.realloc(grown, bigger, size.div_ceil(2));
                    assert_eq!(shrunk as usize % align, 0, "shrunk {size} align {align}");
                    assert!((0..size.div_ceil(2)).all(|i| *shrunk.add(i) == 0xab));
                    let small = Layout::from_size_align(size.div_ceil(2), align).unwrap();
                    a.dealloc(shrunk, small);
                    let z = a.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0);
                    assert!((0..size).all(|i| *z.add(i) == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
