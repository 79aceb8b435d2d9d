//! Shared regions: the one way isolated tasks share memory, on purpose.
//!
//! A [`SharedRegion`] is a run of zeroed frames owned jointly by whoever
//! holds it: kernel tasks (through the region value, which reads and
//! writes through the kernel's linear map) and the address spaces it is
//! mapped into. `task::Builder::share(&region, Access::ReadOnly)` maps it
//! into the isolated task about to be spawned, at the next free place in
//! its shared segment ([`SHARED_BASE`]), read-only or read-write *for that
//! task*, and returns the [`SharedMemory`] the task's closure uses. Mapping
//! happens at spawn, so the task never runs without it, and no system call
//! is needed to use it. The frames are counted like every other frame
//! ([`super::frames_in_use`]) and freed when the last holder is gone.

use super::frames::{allocate_frame, free_frame};
use super::user_layout::{page_align_up, SHARED_BASE, SHARED_RESERVE};
use super::PAGE_SIZE;
use crate::arch::mmu::virt_to_phys;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ptr::NonNull;

/// What an isolated task may do with a shared region it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read only: a write is a memory-access fault that ends the task.
    ReadOnly,
    ReadWrite,
}

/// Why a shared region could not be made or used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionError {
    /// Zero bytes, or more than [`SHARED_RESERVE`].
    BadSize,
    OutOfMemory,
    /// `offset + length` past the region's end.
    OutOfBounds,
    /// A [`SharedMemory`] used by kernel code (it is an address in an
    /// isolated task's shared segment), or mapped in a task that was granted
    /// nothing at its address. Moved into another isolated task by mistake,
    /// its address names that task's own shared segment: a region that task
    /// was granted there, or nothing (the access is a fault that ends that
    /// task); never another task's memory.
    NotGranted,
}

/// The frames of a region; freed with the last reference.
struct Frames {
    frames: Vec<NonNull<u8>>,
    len: usize,
}

// SAFETY: the frames belong to the region alone, and the kernel never makes
// a Rust reference into them: every access is a byte-wise volatile copy
// through a raw pointer. On several cores two tasks (or the kernel and a
// task at EL0) may copy at the same instant: the bytes are then whatever
// the other side wrote, as with memory shared between processes, and no
// kernel invariant depends on them.
unsafe impl Send for Frames {}
// SAFETY: as above.
unsafe impl Sync for Frames {}

impl Drop for Frames {
    fn drop(&mut self) {
        for frame in self.frames.drain(..) {
            // SAFETY: the last reference is gone: no address space maps the
            // frame any more (each holds a reference while it exists).
            unsafe { free_frame(frame) };
        }
    }
}

/// Memory that can be mapped into several isolated tasks (see the module doc).
#[derive(Clone)]
pub struct SharedRegion(Arc<Frames>);

impl core::fmt::Debug for SharedRegion {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        write!(f, "SharedRegion({} bytes)", self.0.len)
    }
}

impl SharedRegion {
    /// A region of `bytes` bytes (whole pages are allocated), zeroed.
    pub fn new(bytes: usize) -> Result<Self, RegionError> {
        if bytes == 0 || bytes as u64 > SHARED_RESERVE {
            return Err(RegionError::BadSize);
        }
        let pages = page_align_up(bytes as u64) / PAGE_SIZE;
        // The shared block first, empty: were the heap too full for it (an
        // `Arc` cannot be made fallibly), the caller's task would end with
        // the frames below taken and never given back. On any error after
        // this, dropping it frees the frames taken so far.
        let mut region = Arc::new(Frames { frames: Vec::new(), len: bytes });
        let frames = &mut Arc::get_mut(&mut region).expect("a new Arc is ours alone").frames;
        frames.try_reserve_exact(pages as usize).map_err(|_| RegionError::OutOfMemory)?;
        for _ in 0..pages {
            frames.push(allocate_frame().ok_or(RegionError::OutOfMemory)?);
        }
        Ok(Self(region))
    }

    /// Its size in bytes, as asked for.
    pub fn len(&self) -> usize {
        self.0.len
    }

    pub fn is_empty(&self) -> bool {
        self.0.len == 0
    }

    /// Copies bytes at `offset` into `buf` (from a kernel task).
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), RegionError> {
        self.check(offset, buf.len())?;
        for (i, byte) in buf.iter_mut().enumerate() {
            // SAFETY: in bounds (checked), a frame of ours; volatile, as tasks may write it.
            *byte = unsafe { self.byte_at(offset + i).read_volatile() };
        }
        Ok(())
    }

    /// Copies `data` to `offset` (from a kernel task).
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), RegionError> {
        self.check(offset, data.len())?;
        for (i, byte) in data.iter().enumerate() {
            // SAFETY: as in `read`.
            unsafe { self.byte_at(offset + i).write_volatile(*byte) };
        }
        Ok(())
    }

    fn check(&self, offset: usize, len: usize) -> Result<(), RegionError> {
        check_bounds(offset, len, self.0.len)
    }

    /// The kernel address of byte `offset` (in bounds).
    fn byte_at(&self, offset: usize) -> *mut u8 {
        let frame = self.0.frames[offset / PAGE_SIZE as usize];
        // SAFETY: within the frame (the remainder is less than a page).
        unsafe { frame.as_ptr().add(offset % PAGE_SIZE as usize) }
    }

    /// The physical addresses of its frames, in order.
    pub(crate) fn frame_addresses(&self) -> impl Iterator<Item = u64> + '_ {
        self.frame_addresses_from(0).map(|(_, pa)| pa)
    }

    /// The physical addresses of its frames from the `first`th on, each with its number.
    pub(crate) fn frame_addresses_from(&self, first: usize) -> impl Iterator<Item = (usize, u64)> + '_ {
        let frames = self.0.frames.get(first..).unwrap_or_default();
        frames.iter().enumerate().map(move |(k, f)| (first + k, virt_to_phys(f.as_ptr() as u64)))
    }

    /// How many frames (pages) it has.
    pub(crate) fn frame_count(&self) -> usize {
        self.0.frames.len()
    }

    /// Bytes it takes in a task's shared segment (whole pages).
    pub(crate) fn mapped_size(&self) -> u64 {
        self.0.frames.len() as u64 * PAGE_SIZE
    }
}

/// A shared region as the isolated task it was given to sees it: where it
/// is mapped in that task, and how. Plain data, so a closure can capture it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedMemory {
    address: u64,
    len: usize,
    access: Access,
}

impl SharedMemory {
    pub(crate) fn new(address: u64, len: usize, access: Access) -> Self {
        debug_assert!(address >= SHARED_BASE);
        Self { address, len, access }
    }

    /// Where the region starts in the task's address space.
    pub fn as_ptr(&self) -> *mut u8 {
        self.address as *mut u8
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn access(&self) -> Access {
        self.access
    }

    fn check(&self, offset: usize, len: usize) -> Result<(), RegionError> {
        if !crate::arch::user_mode::running_at_el0() {
            return Err(RegionError::NotGranted);
        }
        check_bounds(offset, len, self.len)
    }

    /// Maps the region into the calling task now (the `map_shared` system
    /// call; harmless to repeat). Not needed before use: the first touch of
    /// a granted region maps it too, as a heap page is backed on first touch.
    /// Refused outside the task it was granted to (`NotGranted`), and
    /// (`OutOfMemory`) when the tables it needs would take the task past
    /// its memory limit, or no frame is left for them.
    pub fn map(&self) -> Result<(), RegionError> {
        if !crate::arch::user_mode::running_at_el0() {
            return Err(RegionError::NotGranted);
        }
        crate::syscall::user::map_shared(self.address).map(|_| ()).map_err(|e| match e {
            crate::syscall::abi::SyscallError::OutOfMemory => RegionError::OutOfMemory,
            _ => RegionError::NotGranted,
        })
    }

    /// Copies bytes at `offset` into `buf`.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), RegionError> {
        self.check(offset, buf.len())?;
        for (i, byte) in buf.iter_mut().enumerate() {
            // SAFETY: in bounds of the mapping (checked), in the task it was
            // granted to (at EL0 no other address space can be current).
            *byte = unsafe { self.as_ptr().add(offset + i).read_volatile() };
        }
        Ok(())
    }

    /// Copies `data` to `offset`. On a read-only region this is a
    /// memory-access fault, as any write there: the hardware says no.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), RegionError> {
        self.check(offset, data.len())?;
        for (i, byte) in data.iter().enumerate() {
            // SAFETY: as in `read`; a read-only mapping faults, ending the task alone.
            unsafe { self.as_ptr().add(offset + i).write_volatile(*byte) };
        }
        Ok(())
    }
}

/// Is `[offset, offset + len)` inside a region of `size` bytes?
fn check_bounds(offset: usize, len: usize, size: usize) -> Result<(), RegionError> {
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(RegionError::OutOfBounds),
    }
}
