//! The allocator's bound on heap growth (`hookd::allocator`), which keeps the render worker's
//! memory in check. A test binary of its own: the bound holds for the whole process, so no
//! other test may share it.
//!
//! Allocations go through `Vec::try_reserve_exact`, which reports the allocator's refusal
//! instead of aborting.

const MIB: usize = 1024 * 1024;

fn reserve(bytes: usize) -> Result<Vec<u8>, std::collections::TryReserveError> {
    let mut buffer = Vec::new();
    buffer.try_reserve_exact(bytes)?;
    Ok(buffer)
}

#[test]
fn the_heap_grows_up_to_the_bound_and_no_further_and_frees_make_room_again() {
    assert!(reserve(256 * MIB).is_ok(), "no bound until one is set");

    hookd::allocator::bound_heap_growth(64 * MIB);

    let first = reserve(40 * MIB).expect("within the bound");
    assert!(reserve(40 * MIB).is_err(), "40 + 40 MiB is past 64 MiB");
    let mut grown = reserve(MIB).expect("40 + 1 MiB is within the bound");
    assert!(
        grown.try_reserve_exact(30 * MIB).is_err(),
        "growing in place counts as well"
    );

    drop(first);
    assert!(
        grown.try_reserve_exact(40 * MIB).is_ok(),
        "what was freed is room again"
    );
}
