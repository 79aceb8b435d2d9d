//! What may cross between address spaces: plain data.

/// A type whose values can be sent on an [`ipc` channel](super::channel):
/// copied byte for byte from one address space into another.
///
/// # Safety
/// Implement it only for types that
/// - hold no pointers or references (their meaning does not depend on the
///   address space they are in);
/// - have no padding bytes (every byte of a value is initialized);
/// - accept every bit pattern as a valid value (no `bool`, `char`, enums or
///   references inside), since the kernel cannot check what a task sends.
///
/// Integers, floats and arrays of them qualify; a `#[repr(C)]` struct of
/// such fields without padding does too (`unsafe impl Message for MyStruct {}`).
pub unsafe trait Message: Copy + Send + 'static {}

/// The largest message a channel carries, in bytes: a system call copies a
/// message through its task's 8 KiB kernel stack (the copy it takes from
/// the task, and the channel's own on the way), and a larger one would run
/// off that stack. [`channel`](super::channel) of a larger type does not
/// build; send a larger one in pieces, or through a shared region.
pub const MAX_MESSAGE_SIZE: usize = 1024;

macro_rules! plain_data {
    ($($t:ty),*) => { $(
        // SAFETY: a primitive number: no pointers, no padding, every bit pattern valid.
        unsafe impl Message for $t {}
    )* };
}

plain_data!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

// SAFETY: no bytes at all: nothing to point, pad or be invalid (what a task returns when it returns nothing).
unsafe impl Message for () {}

// SAFETY: an array of plain data is plain data (arrays have no padding between elements).
unsafe impl<T: Message, const N: usize> Message for [T; N] {}

/// The bytes of a message (sound: a `Message` has no padding).
pub(crate) fn bytes_of<T: Message>(value: &T) -> &[u8] {
    // SAFETY: `value` is `size_of::<T>()` initialized bytes (no padding, by `Message`'s contract).
    unsafe { core::slice::from_raw_parts(value as *const T as *const u8, core::mem::size_of::<T>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_its_bytes() {
        let m: [u32; 3] = [1, 0xdead_beef, u32::MAX];
        assert_eq!(bytes_of(&m).len(), 12);
        assert_eq!(bytes_of(&m)[4..8], 0xdead_beef_u32.to_ne_bytes());
        assert_eq!(bytes_of(&7u64), &7u64.to_ne_bytes());
    }
}
