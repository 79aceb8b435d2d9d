//! Device drivers that boards wire up. A driver knows a device's registers;
//! the board (`boards/<name>`) knows where the device is and how it is wired.

pub mod gic;
pub mod pl011;
