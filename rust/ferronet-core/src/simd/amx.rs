//! AMX (Advanced Matrix Extensions): detection and the OS permission.
//!
//! AMX tiles are a separate register file (eight 1 KiB tiles) whose state the
//! Linux kernel only saves for processes that asked for it: a tile
//! instruction before `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`
//! kills the process with SIGILL. The request is made once, lazily, the
//! first time a bfloat16 product asks whether AMX is usable; the permission
//! then holds for every thread of the process.
//!
//! On stable Rust the AMX intrinsics and `is_x86_feature_detected!("amx-tile")`
//! are not available, so the CPU is asked directly: CPUID leaf 7 reports
//! AMX-BF16 (EDX bit 22) and AMX-TILE (EDX bit 24), and XCR0 bits 17 and 18
//! (XTILECFG, XTILEDATA) say whether the OS manages the tile state.

use std::sync::OnceLock;

/// Whether this machine and OS can run AMX bfloat16 tile instructions (the
/// permission is requested on the first call).
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(detect)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn detect() -> bool {
    use std::arch::x86_64::{__cpuid, __cpuid_count};
    const AMX_BF16: u32 = 1 << 22;
    const AMX_TILE: u32 = 1 << 24;
    const OSXSAVE: u32 = 1 << 27;
    const XTILE_BITS: u64 = (1 << 17) | (1 << 18);
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: CPUID is unprivileged and present on every x86-64 CPU.
    #[allow(unused_unsafe)]
    let (max_leaf, leaf1, leaf7) = unsafe { (__cpuid(0).eax, __cpuid(1), __cpuid_count(7, 0)) };
    if max_leaf < 7 || leaf7.edx & (AMX_BF16 | AMX_TILE) != AMX_BF16 | AMX_TILE || leaf1.ecx & OSXSAVE == 0 {
        return false;
    }
    // Also needs AVX-512 (BW) for the packing code around the tiles.
    if !(is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw")) {
        return false;
    }
    // SAFETY: the syscall only changes this process's permission to use the
    // tile state; it fails cleanly on kernels that do not know it.
    let granted = unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) } == 0;
    if !granted {
        return false;
    }
    // SAFETY: XGETBV(0) is allowed since OSXSAVE is set.
    let xcr0 = unsafe { xgetbv0() };
    xcr0 & XTILE_BITS == XTILE_BITS
}

/// XCR0 through XGETBV with ECX = 0.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
unsafe fn xgetbv0() -> u64 {
    let (lo, hi): (u32, u32);
    std::arch::asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags));
    ((hi as u64) << 32) | lo as u64
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn detect() -> bool {
    false
}
