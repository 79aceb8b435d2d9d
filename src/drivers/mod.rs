//! Device drivers that boards wire up. A driver knows a device's registers;
//! the board (`boards/<name>`) knows where the device is and how it is wired.
//!
//! - [`mmio`]: [`mmio::Mmio`], how every driver here reaches its registers;
//! - [`pl011`]: the ARM PL011 UART (QEMU virt, UART0 on the Raspberry Pis);
//! - [`gic`]: the ARM GIC v2/v3 (QEMU virt, the Pi 4's GIC-400), with the
//!   GICv2 registers the `arm-gic` crate leaves alone in [`gicv2_targets`]
//!   (where interrupts go), [`gicv2_cpu_interface`] (each core's own) and
//!   [`gicv2_pending`] (making one pending from software);
//! - [`bcm_gpio`]: pin functions, pulls, levels and edge detection on the
//!   Pi 3 and Pi 4, and [`bcm_gpio_port`], which puts it behind [`crate::gpio`];
//! - [`bcm_mailbox`]: the Pis' firmware property channel (model, revision, RAM);
//! - [`bcm_pm_watchdog`]: the Pis' power-management watchdog, which resets the chip;
//! - [`bcm2837_irq`]: the Pi 3's two-level interrupt controller, built from
//!   [`bcm2836_local`] and [`bcm2835_intc`].

pub mod bcm2835_intc;
pub mod bcm2836_local;
pub mod bcm2837_irq;
pub mod bcm_gpio;
pub mod bcm_gpio_port;
pub mod bcm_mailbox;
pub mod bcm_pm_watchdog;
pub mod gic;
pub mod gicv2_cpu_interface;
pub mod gicv2_pending;
pub mod gicv2_targets;
pub mod mmio;
pub mod pl011;
