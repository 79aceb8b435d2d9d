//! What an isolated task's address space looks like, for people and tools:
//! `mm::dump` (a table, [`dump_address_space`]; the shell's `maps`,
//! [`dump_address_space_of`]) and `mm::dump_maps` (the `@@ilusion-maps v1`
//! frame that `tools/trace` draws). The mappings are read a few pages per
//! critical section ([`mapped_pages_of`]), the task held meanwhile, and
//! written out after.

use super::spawn::JoinHandle;
use crate::arch::mmu::descriptor::Attributes;
use crate::critical::CriticalSection;
use crate::sched::tcb::Tcb;
use core::ptr::NonNull;

/// What `mm::dump` and `mm::dump_maps` read of an isolated task: its
/// mapped pages (in address order), its stack size and its heap reserve.
pub(crate) struct MappedPages {
    pages: alloc::vec::Vec<(u64, Attributes)>,
    stack_size: u64,
    heap_reserve: u64,
}

/// The mappings of the isolated task `handle` refers to, or why not (a
/// sentence to print after the task's name).
fn mapped_pages<T>(handle: &JoinHandle<T>) -> Result<MappedPages, &'static str> {
    // SAFETY: the handle holds the task.
    unsafe { mapped_pages_of(handle.tcb) }
}

/// How many pages [`mapped_pages_of`] reads in one critical section.
const PAGES_PER_SECTION: usize = 64;

/// The mappings of task `task`, in address order. For a task found by id
/// (the shell's `maps`) as well as through its handle.
///
/// They are read with interrupts masked, so that the scheduler does not
/// change them meanwhile, but [`PAGES_PER_SECTION`] at a time, the task
/// held meanwhile (never looked up again): every core waits for a
/// few pages at most, never for a whole address space (an 8 MiB stack and
/// 24 MiB of heap, 8,192 pages, kept them waiting 2.7 ms under icount).
/// The table grows and is sorted outside the sections. Pages the task
/// touches meanwhile may be listed or not, as with any statistic; a task
/// that ends meanwhile has no address space to show.
///
/// # Safety
/// `task` is held (a reference in `Tcb::refs`) for the whole call.
pub(crate) unsafe fn mapped_pages_of(task: NonNull<Tcb>) -> Result<MappedPages, &'static str> {
    const GONE: &str = "not an isolated task (or already ended): no address space of its own";
    // SAFETY: held, so alive (our caller's promise).
    let t = unsafe { task.as_ref() };
    let mut pages = alloc::vec::Vec::new();
    let (mut stack_size, mut heap_reserve);
    let mut from = 0;
    loop {
        let mut chunk = [None; PAGES_PER_SECTION];
        let read = {
            let _masked = CriticalSection::new();
            // SAFETY: interrupts are masked, so the scheduler does not touch
            // the address space meanwhile (it lives as long as the task's block).
            let space = unsafe { (*t.address_space.get()).as_ref() }.ok_or(GONE)?;
            (stack_size, heap_reserve) = (t.user_stack_size, space.usage().heap_reserve);
            let mut read = 0;
            for ((va, _), slot) in space.pages_from(from).zip(&mut chunk) {
                *slot = space.attributes_of(va).map(|attrs| (va, attrs));
                read += 1;
            }
            read
        };
        // Outside the section: the table may grow (fallibly, as nothing here may end the caller).
        if pages.try_reserve(read).is_err() {
            return Err("out of kernel memory for the table of its mappings");
        }
        pages.extend(chunk.iter().flatten().copied());
        if read < PAGES_PER_SECTION {
            break;
        }
        from += read;
    }
    pages.sort_unstable_by_key(|(va, _)| *va);
    Ok(MappedPages { pages, stack_size, heap_reserve })
}

/// The attributes an isolated task sees at the kernel address `va`.
fn user_view_attributes(va: u64) -> Attributes {
    crate::arch::mmu::translate_user_view(va).map(|(_, a, _)| a).unwrap_or(Attributes::KERNEL_RODATA)
}

/// `mm::dump`: prints the mappings of the isolated task `handle` refers to
/// (range, size, EL0 permissions, memory type, segment), with the image's
/// code and constants as the task sees them.
pub fn dump_address_space<T>(handle: &JoinHandle<T>) {
    print_address_space(&handle.task(), mapped_pages(handle));
}

/// `mm::dump` of the task with id `id`, looked up among the tasks alive
/// (the shell's `maps`); `false` if there is none. With no room in the
/// kernel heap for the table, it prints that instead.
pub fn dump_address_space_of(id: u64) -> bool {
    // Looked up once, and held while its mappings are read (fallibly), not
    // while the table is written: a caller that ran out of memory there
    // would end holding the task, and the task would never be freed.
    let Some(held) = super::inspect::find_held(id) else { return false };
    let task = super::Task::from(held.tcb(&CriticalSection::new()));
    // SAFETY: held until `held` is dropped, after the read.
    let space = unsafe { mapped_pages_of(held.as_ptr()) };
    drop(held);
    print_address_space(&task, space);
    true
}

/// Prints the human table of `task`'s mappings, or why there are none.
fn print_address_space(task: &super::Task, space: Result<MappedPages, &'static str>) {
    use crate::mm::layout::ImageLayout;
    use alloc::string::String;
    let space = match space {
        Ok(space) => space,
        Err(why) => return crate::println!("{task}: {why}"),
    };
    let image = ImageLayout::current();
    let shared = [
        ("image code (shared)", image.start, image.text_end, user_view_attributes(image.start)),
        ("image constants (shared)", image.text_end, image.rodata_end, user_view_attributes(image.text_end)),
    ];
    // Written whole before it is printed (one console write, not cut into
    // by other cores), in a string that stops growing when the kernel heap
    // has no room: the caller is told, and ends with nothing left behind.
    let mut out = GrowsIfRoom(String::new());
    let written = crate::mm::mapping_table::write_table(&mut out, space.pages.into_iter(), space.stack_size, &shared);
    match written {
        // Every row ends its line: no blank line after the table.
        Ok(()) => crate::print!("{task}: address space\n{}", out.0),
        Err(_) => {
            drop(out);
            crate::println!("{task}: out of kernel memory for the table of its mappings");
        }
    }
}

/// A `String` that refuses to grow (a `fmt::Error`) when the kernel heap
/// has no room for it, where `String` would end the task.
struct GrowsIfRoom(alloc::string::String);

impl core::fmt::Write for GrowsIfRoom {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.try_reserve(s.len()).map_err(|_| core::fmt::Error)?;
        self.0.push_str(s);
        Ok(())
    }
}

/// `mm::maps`: the address space of the isolated task `handle` refers to
/// as the framed, machine-readable `@@ilusion-maps v1` text the host tool
/// `tools/trace` draws (see [`crate::mm::mapping_table::write_maps`]), or
/// why there is none, as a one-line message naming the task.
pub fn address_space_maps<T>(handle: &JoinHandle<T>) -> Result<alloc::string::String, alloc::string::String> {
    let task = handle.task();
    let space = mapped_pages(handle).map_err(|why| alloc::format!("{task}: {why}"))?;
    Ok(maps_text(&task, &space))
}

/// The `@@ilusion-maps v1` frame of `task`, whose mappings are `space`.
pub(crate) fn maps_text(task: &super::Task, space: &MappedPages) -> alloc::string::String {
    use crate::mm::layout::ImageLayout;
    use crate::mm::mapping_table::{write_maps, UpperHalf};
    let image = ImageLayout::current();
    let upper = UpperHalf {
        start: crate::arch::mmu::KERNEL_OFFSET,
        code: (image.start, image.text_end, user_view_attributes(image.start)),
        rodata: (image.text_end, image.rodata_end, user_view_attributes(image.text_end)),
    };
    let mut out = alloc::string::String::new();
    let name = task.name().unwrap_or("unnamed");
    let _ = write_maps(&mut out, task.id(), name, &space.pages, space.stack_size, space.heap_reserve, &upper);
    out
}

/// `mm::dump_maps`: prints [`address_space_maps`] in one `print!` (its lines
/// come out whole; another core's lines may come between them, which
/// `tools/trace` skips), or the reason there is none.
pub fn dump_maps<T>(handle: &JoinHandle<T>) {
    match address_space_maps(handle) {
        Ok(frame) => crate::print!("{frame}"),
        Err(why) => crate::println!("{why}"),
    }
}
