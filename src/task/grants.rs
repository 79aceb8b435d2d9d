//! What an isolated task is given at spawn, besides its closure: channel
//! endpoints (as handles in its own table) and shared regions (mapped into
//! its address space).
//!
//! ```ignore
//! let mut builder = Builder::new().name("reader");
//! let rx = builder.grant(rx);                          // a handle of the new task
//! let view = builder.share(&region, Access::ReadOnly); // where it will see the region
//! builder.spawn_isolated(move || { let n = rx.recv(); view.read(0, &mut buf); })?;
//! ```

use super::spawn::Builder;
use crate::ipc::{Grant, HandleTable};
use crate::mm::shared_region::{Access, SharedMemory, SharedRegion};
use crate::mm::user_layout::{SHARED_BASE, SHARED_RESERVE};
use crate::mm::PAGE_SIZE;
use alloc::vec::Vec;

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
    /// Does every region fit in the shared segment?
    pub fn regions_fit(&self) -> bool {
        self.shared_used <= SHARED_RESERVE
    }

    /// The grants of a supervised task's next run: `handles` (the table the
    /// run before held, taken back whole) and the same regions at the same
    /// addresses, with the same access.
    pub fn again(&self, handles: HandleTable) -> Grants {
        Grants { handles, regions: self.regions.clone(), shared_used: self.shared_used }
    }
}

impl Builder {
    fn grants(&mut self) -> &mut Grants {
        self.grants.get_or_insert_with(Default::default)
    }

    /// Hands a channel endpoint to the isolated task this builder spawns:
    /// records it in that task's handle table and returns the endpoint in
    /// its *granted* form, for the closure to capture. Kernel tasks
    /// (`spawn`) get no handles: what was granted is then dropped.
    pub fn grant<E: Grant>(&mut self, endpoint: E) -> E {
        endpoint.grant_into(&mut self.grants().handles)
    }

    /// Maps `region` into the isolated task this builder spawns, with
    /// `access` for that task, and returns where the task will see it.
    /// Regions go one after the other, a page apart, in the task's shared
    /// segment; if they do not fit, `spawn_isolated` fails with `OutOfMemory`.
    pub fn share(&mut self, region: &SharedRegion, access: Access) -> SharedMemory {
        let grants = self.grants();
        let address = SHARED_BASE + grants.shared_used;
        grants.shared_used += region.mapped_size() + PAGE_SIZE;
        grants.regions.push((region.clone(), address, access));
        SharedMemory::new(address, region.len(), access)
    }
}
