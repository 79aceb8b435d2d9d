//! The board ilusion is built for, chosen by a Cargo feature. Each board
//! lives in `boards/<name>/mod.rs` and provides the same items: `NAME`,
//! `RAM`, `DEVICES`, `DEVICE_TREE_FALLBACK`, `UART_INTID`, `TIMER_INTID`,
//! `init_console`, `init_interrupts` and `interrupt_controller_name`.

#[cfg_attr(feature = "board-qemu-virt", path = "../boards/qemu-virt/mod.rs")]
#[cfg_attr(feature = "board-rpi3", path = "../boards/rpi3/mod.rs")]
#[cfg_attr(feature = "board-rpi4", path = "../boards/rpi4/mod.rs")]
mod selected;

#[cfg(any(
    all(feature = "board-qemu-virt", feature = "board-rpi3"),
    all(feature = "board-qemu-virt", feature = "board-rpi4"),
    all(feature = "board-rpi3", feature = "board-rpi4"),
))]
compile_error!(
    "ilusion: more than one board feature is enabled. Choose exactly one of `board-qemu-virt` \
     (the default), `board-rpi3`, `board-rpi4`; for a Raspberry Pi also give `default-features = false`."
);

#[cfg(not(any(feature = "board-qemu-virt", feature = "board-rpi3", feature = "board-rpi4")))]
compile_error!("ilusion: no board feature is enabled. Enable one of `board-qemu-virt`, `board-rpi3`, `board-rpi4`.");

pub use selected::*;
