//! What an isolated task is given at spawn, besides its closure: channel
//! endpoints (as handles in its own table) and shared regions (mapped into
//! its address space). A [`Builder`](super::Builder) collects them with
//! `grant` and `share`:
//!
//! ```ignore
//! let mut builder = Builder::new().name("reader");
//! let rx = builder.grant(rx);                          // a handle of the new task
//! let view = builder.share(&region, Access::ReadOnly); // where it will see the region
//! builder.spawn_isolated(move || { let n = rx.recv(); view.read(0, &mut buf); })?;
//! ```

use crate::ipc::HandleTable;
use crate::mm::shared_region::{Access, SharedMemory, SharedRegion};
use crate::mm::user_layout::{SHARED_BASE, SHARED_RESERVE};
use crate::mm::PAGE_SIZE;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};

/// A builder's grants, if it has any. Dropped through a pointer that the
/// first grant installs ([`GrantSlot::get_or_default`]): a builder's drop
/// then links the code that releases handles and shared regions (frames)
/// only into applications that grant something (issue 14: the hello image).
#[derive(Debug, Default)]
pub(crate) struct GrantSlot(ManuallyDrop<Option<Box<Grants>>>);

/// Drops a slot's grants: installed by the first [`GrantSlot::get_or_default`].
static DROP_GRANTS: spin::Once<fn(&mut Option<Box<Grants>>)> = spin::Once::new();

impl GrantSlot {
    /// The grants, made empty the first time.
    pub fn get_or_default(&mut self) -> &mut Grants {
        crate::critical::call_once_unpreempted(&DROP_GRANTS, || |grants| *grants = None);
        self.0.get_or_insert_with(Default::default)
    }
}

impl Deref for GrantSlot {
    type Target = Option<Box<Grants>>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for GrantSlot {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for GrantSlot {
    fn drop(&mut self) {
        // Grants are only made by `get_or_default`, which installed the pointer.
        if let Some(drop_grants) = DROP_GRANTS.get() {
            drop_grants(&mut self.0);
        }
    }
}

/// The grants a `Builder` collects for the isolated task it will spawn.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    pub handles: HandleTable,
    /// Each region, where it goes in the task, and how.
    pub regions: Vec<(SharedRegion, u64, Access)>,
    /// The bytes of the shared segment used so far.
    shared_used: u64,
}

impl Grants {
    /// Places `region` after the ones before it, a page apart, in the
    /// task's shared segment, with `access`; returns where the task will see it.
    pub fn add_region(&mut self, region: &SharedRegion, access: Access) -> SharedMemory {
        let address = SHARED_BASE + self.shared_used;
        self.shared_used += region.mapped_size() + PAGE_SIZE;
        self.regions.push((region.clone(), address, access));
        SharedMemory::new(address, region.len(), access)
    }

    /// Does every region fit in the shared segment? If not, the bytes they
    /// need and the segment's size ([`SpawnError::SharedSegmentFull`](super::SpawnError::SharedSegmentFull)).
    pub fn regions_fit(&self) -> Result<(), (u64, u64)> {
        if self.shared_used <= SHARED_RESERVE {
            return Ok(());
        }
        Err((self.shared_used, SHARED_RESERVE))
    }

    /// The grants of a supervised task's next run: `handles` (the table the
    /// run before held, taken back whole) and the same regions at the same
    /// addresses, with the same access. `None` if the heap has no room for
    /// the list (the supervisor's spawn fails with `OutOfMemory`, instead of
    /// the supervisor's task ending).
    pub fn try_again(&self, handles: HandleTable) -> Option<Grants> {
        let mut regions = Vec::new();
        regions.try_reserve_exact(self.regions.len()).ok()?;
        regions.extend(self.regions.iter().cloned());
        Some(Grants { handles, regions, shared_used: self.shared_used })
    }
}
