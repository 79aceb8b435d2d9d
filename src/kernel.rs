//! Bringing the portable OS up, in order, then running the application.
//!
//! `arch::start` calls [`start`] with the MMU on (boot mapping). From there:
//! find out how much RAM there is, build and switch to the kernel's real
//! translation tables, start the console, the logger, the heap, time and
//! interrupts, the scheduler (the boot context becomes core 0's idle task)
//! and the other cores (`cores`: each becomes an idle task of its own), and
//! run the application's `main` as the first task. Returning from `main` powers off with status 0.

use crate::arch::mmu::{self, phys_to_virt};
use crate::arch::smp::StartError;
use crate::arch::start::BootInfo;
use crate::board::{Board, Selected};
use crate::fdt::BootFacts;
use crate::mm::layout::{self, ImageLayout, PhysRange};
use crate::{arch::cpu, console, irq, logger, mm, sched, task, time};
use core::sync::atomic::{AtomicU8, Ordering};

static BOOT_EL: AtomicU8 = AtomicU8::new(0);

/// The exception level the loader started ilusion at (1, 2 or 3).
pub fn boot_exception_level() -> u8 {
    BOOT_EL.load(Ordering::Relaxed)
}

/// What the device tree says (RAM, cores, PSCI), if the loader passed one
/// or the board keeps one where it can be read; [`BootFacts::NONE`] if not
/// (the board's defaults apply, and the firmware may know the RAM, see
/// [`ram_from_firmware`]).
fn read_device_tree(info: &BootInfo) -> BootFacts {
    let image_pa = mmu::virt_to_phys(ImageLayout::current().start);
    let candidates = [info.device_tree, Selected::DEVICE_TREE_FALLBACK.unwrap_or(0)];
    for pa in candidates {
        // Only the 1 GiB around the image is mapped yet (by boot.s).
        if pa == 0 || pa >> 30 != image_pa >> 30 || (pa + 64) >> 30 != image_pa >> 30 {
            continue;
        }
        // SAFETY: the header is inside the boot mapping, checked just above.
        let header = unsafe { core::slice::from_raw_parts(phys_to_virt(pa) as *const u8, 64) };
        let Some(size) = crate::fdt::total_size(header) else { continue };
        if (pa + size as u64) >> 30 != image_pa >> 30 {
            continue;
        }
        // SAFETY: the whole tree is inside the boot mapping, checked just above.
        let dtb = unsafe { core::slice::from_raw_parts(phys_to_virt(pa) as *const u8, size) };
        let facts = crate::fdt::boot_facts(dtb);
        if facts.memory.is_some() {
            return facts;
        }
    }
    BootFacts::NONE
}

/// With no device tree, the RAM the board's firmware reports (the Pis'
/// mailbox), once the devices are mapped; `mapped` (the board's default,
/// already in the linear map) if it cannot say. RAM beyond `mapped` is
/// added to the linear map here, before the heap takes it.
fn ram_from_firmware(mapped: PhysRange) -> PhysRange {
    let Some(reported) = Selected::ram_from_firmware() else { return mapped };
    if reported.base != mapped.base || reported.size == 0 || !reported.size.is_multiple_of(crate::mm::PAGE_SIZE) {
        log::warn!("firmware reports RAM {reported:?}, unusable: keeping {mapped:?}");
        return mapped;
    }
    if reported.end() > mapped.end() {
        if let Err(e) = mmu::extend_linear_map(mapped.end(), reported.end() - mapped.end()) {
            log::warn!("cannot map the firmware's RAM {reported:?} ({e}): keeping {mapped:?}");
            return mapped;
        }
    }
    log::debug!("RAM from the firmware: {reported:?}");
    reported
}

/// The heap's size: RAM from the end of the image (at physical `image_end`)
/// to the end of `ram`. RAM that ends before the image does (the VideoCore
/// given all but the first 512 KiB by config.txt's `gpu_mem`, a device tree
/// with too little `/memory`) stops the boot saying so, `told_by` naming
/// who said how much RAM there is (it used to wrap around, and the heap
/// allocator's crate failed with `assertion failed: start <= end`).
fn heap_size(ram: PhysRange, image_end: u64, told_by: &str) -> u64 {
    match ram.end().checked_sub(image_end) {
        Some(size) if size > 0 => size,
        _ => panic!(
            "{told_by} the ARM RAM up to {:#x} ({} KiB), which ends before the image does (at {image_end:#x}): \
             nothing is left for the heap (on a Pi, give the VideoCore less: gpu_mem in config.txt)",
            ram.end(),
            ram.size >> 10
        ),
    }
}

/// Where `discover_ram` looked, for the log once the console is up.
fn log_device_tree(info: &BootInfo) {
    match Selected::DEVICE_TREE_FALLBACK {
        Some(default) => {
            log::debug!("device tree from the loader: {:#x}; board default: {default:#x}", info.device_tree)
        }
        None => log::debug!("device tree from the loader: {:#x}; no board default", info.device_tree),
    }
}

pub(crate) fn start(info: BootInfo) -> ! {
    crate::arch::context::set_current_task_pointer(core::ptr::null_mut()); // no tasks yet
    BOOT_EL.store(info.boot_el, Ordering::Relaxed);
    time::mark_boot(0);
    let facts = read_device_tree(&info);
    let ram = facts.memory.unwrap_or(Selected::RAM);
    let image = ImageLayout::current();
    let mut map = layout::MemoryMap::empty();
    layout::kernel_regions(&mut map, &image, ram, Selected::DEVICES, mmu::virt_to_phys);
    if mmu::init(map.regions()).is_err() {
        // No console yet (it needs the new tables): nothing to say it with.
        cpu::halt();
    }

    time::init();
    console::init(Selected::init_console());
    logger::init();
    time::warn_if_firmware_left_no_frequency();
    log_device_tree(&info);
    let ram = if facts.memory.is_some() { ram } else { ram_from_firmware(ram) };
    let told_by = if facts.memory.is_some() { "the device tree gives" } else { "the firmware leaves" };
    mm::heap::init(image.end, heap_size(ram, mmu::virt_to_phys(image.end), told_by));
    irq::init(Selected::init_interrupts(info.boot_el == 3));
    let registered = [
        irq::register_for_kernel(Selected::UART_INTID, console::receive_interrupt),
        irq::register_for_kernel(Selected::TIMER_INTID, sched::timer::interrupt),
        irq::register_ipi_handlers(),
    ];
    if let Some(Err(e)) = registered.into_iter().find(Result::is_err) {
        panic!("the kernel's interrupts (console, timer, IPIs): {e}");
    }
    let pan = crate::arch::user_access::enable_pan();
    crate::arch::cpu::close_el0_debug_and_monitors();
    // From here on this context is core 0's idle task; `main` is the first real task.
    sched::scheduler::init(time::duration_to_ticks(DEFAULT_TIME_SLICE, time::frequency()));
    task::init_kills();
    cpu::enable_interrupts();
    let not_started = crate::cores::start_others(info.boot_el, &facts);

    let cores = crate::percpu::up_count();
    let head = crate::banner::head(BANNER_START, info.boot_el, cores);
    let tail = crate::banner::tail(ram.size >> 20, Selected::interrupt_controller_name(), pan);
    log::info!("{}{}{}", head.as_str(), NotStarted(not_started), tail.as_str());
    if let Some(model) = Selected::model() {
        log::info!("board: {model}");
    }
    crate::trace::at_boot();
    let main = task::Builder::new().name("main").stack_size(MAIN_STACK_SIZE).spawn(|| {
        extern "Rust" {
            /// The application's `main`, named by `ilusion::entry!`.
            fn ilusion_main();
        }
        // SAFETY: `entry!` defines `ilusion_main` as a safe `fn()`.
        unsafe { ilusion_main() };
        crate::power::exit(0)
    });
    // Its only possible error (its stack, name and priority are fixed): the
    // message says it without linking `SpawnError`'s `Debug`.
    let Ok(main) = main else { panic!("no memory for the main task") };
    core::mem::forget(main);
    sched::scheduler::run_idle()
}

/// How long a preemptive task runs before an equal one gets its turn.
pub const DEFAULT_TIME_SLICE: time::Duration = time::Duration::from_millis(10);
/// The stack of the task that runs the application's `main`.
const MAIN_STACK_SIZE: usize = 256 * 1024;

/// The banner's first words, "ilusion 0.1.0 on qemu-virt (EL", joined
/// when the image is built.
const BANNER_START: &str = {
    const BYTES: [u8; crate::banner::start_len(Selected::NAME)] = crate::banner::start(Selected::NAME);
    match core::str::from_utf8(&BYTES) {
        Ok(start) => start,
        Err(_) => panic!("the banner's start is whole strings joined"),
    }
};

/// In the banner: why other cores are not up, if one could not be started.
struct NotStarted(Option<StartError>);

impl core::fmt::Display for NotStarted {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        match &self.0 {
            Some(e) => write!(f, " (others not started: {e})"),
            None => Ok(()),
        }
    }
}
