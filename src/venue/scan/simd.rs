//! The scanner's byte classification, the only `unsafe` of the scanner: SIMD via `std::arch`
//! with runtime detection (AVX2, SSE4.2) and a portable fallback.
//!
//! One question is asked of the bytes, 64 at a time: which of them stop a string? A string the
//! scanner accepts holds printable ASCII only (0x20..=0x7F without `"` and `\`), so a string
//! stops at the first `"` (its end), `\` (an escape: the scanner gives up), control byte
//! (< 0x20) or non-ASCII byte (>= 0x80, UTF-8 the scanner does not validate). The answer is a
//! bitmask per 64-byte block of the frame ([`Kernel::stop_mask`]), computed once per block and
//! kept by the cursor, which finds each string's end in it with `trailing_zeros`: one kernel
//! call per 64 bytes of frame instead of one per string.
//!
//! A [`Kernel`] can only be made by [`Kernel::detect`] or [`Kernel::forced`], which check the
//! CPU: that is the invariant every `unsafe` call below relies on.

/// The implementation a [`Kernel`] runs (what [`Kernel::forced`] asks for).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelKind {
    /// 32 bytes a step with AVX2 compares.
    Avx2,
    /// 16 bytes a step with SSE4.2's `pcmpestrm` (byte ranges).
    Sse42,
    /// A byte at a time through a table: any CPU, and what Miri runs.
    Portable,
}

impl KernelKind {
    /// Every kind, fastest first.
    pub const ALL: [KernelKind; 3] = [KernelKind::Avx2, KernelKind::Sse42, KernelKind::Portable];

    /// A short stable name (`avx2`, `sse4.2`, `portable`).
    pub const fn name(self) -> &'static str {
        match self {
            KernelKind::Avx2 => "avx2",
            KernelKind::Sse42 => "sse4.2",
            KernelKind::Portable => "portable",
        }
    }
}

/// A byte-classification implementation this CPU is known to support: made only by
/// [`Kernel::detect`] or [`Kernel::forced`], which check the CPU (the invariant the SIMD paths
/// rely on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernel {
    /// Invariant: `kind`'s target features were detected on this CPU.
    kind: KernelKind,
}

impl Default for Kernel {
    fn default() -> Self {
        Kernel::detect()
    }
}

/// The bytes a block holds.
pub(crate) const BLOCK: usize = 64;

impl Kernel {
    /// The fastest kernel this CPU supports.
    pub fn detect() -> Kernel {
        KernelKind::ALL
            .into_iter()
            .find_map(Kernel::forced)
            .unwrap_or(Kernel { kind: KernelKind::Portable })
    }

    /// `kind` if this CPU supports it (tests force each path this way).
    pub fn forced(kind: KernelKind) -> Option<Kernel> {
        let ok = match kind {
            KernelKind::Portable => true,
            #[cfg(target_arch = "x86_64")]
            KernelKind::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            KernelKind::Sse42 => std::arch::is_x86_feature_detected!("sse4.2"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        };
        ok.then_some(Kernel { kind })
    }

    /// Which implementation this is.
    pub fn kind(self) -> KernelKind {
        self.kind
    }

    /// The stop bytes of the 64-byte block at `base`: bit `i` is set if byte `base + i` is
    /// `"`, `\`, below 0x20 or above 0x7F, or lies past the end of `buf` (so the end of the
    /// frame stops a string too).
    #[inline]
    pub fn stop_mask(self, buf: &[u8], base: usize) -> u64 {
        let Some(tail) = buf.get(base..).filter(|t| !t.is_empty()) else { return u64::MAX };
        if let Some(block) = tail.first_chunk::<BLOCK>() {
            return self.block_mask(block);
        }
        // The frame's last, partial block of `n` bytes: the frame's last 64 bytes classified
        // and shifted down (no copy), or, in a frame shorter than a block, a copy padded with
        // stops; the bits past the end set either way.
        let n = tail.len();
        match buf.last_chunk::<BLOCK>() {
            Some(last) => (self.block_mask(last) >> (BLOCK - n)) | (u64::MAX << n),
            None => {
                let mut block = [b'"'; BLOCK];
                block[..n].copy_from_slice(tail);
                self.block_mask(&block)
            }
        }
    }

    /// The stop bytes of one whole block.
    #[inline]
    fn block_mask(self, block: &[u8; BLOCK]) -> u64 {
        match self.kind {
            #[cfg(target_arch = "x86_64")]
            KernelKind::Avx2 => {
                // SAFETY: a `Kernel` of kind Avx2 exists only if AVX2 was detected (the type's
                // invariant, upheld by `forced`), so the target feature is available.
                unsafe { x86::block_mask_avx2(block) }
            }
            #[cfg(target_arch = "x86_64")]
            KernelKind::Sse42 => {
                // SAFETY: a `Kernel` of kind Sse42 exists only if SSE4.2 was detected (the
                // type's invariant, upheld by `forced`), so the target feature is available.
                unsafe { x86::block_mask_sse42(block) }
            }
            _ => block_mask_portable(block),
        }
    }

    /// The index of the first byte at or after `from` that is `"`, `\`, below 0x20 or above
    /// 0x7F; `buf.len()` if there is none (or `from` is past the end).
    pub fn string_stop(self, buf: &[u8], from: usize) -> usize {
        let mut at = from;
        while at < buf.len() {
            let base = at - at % BLOCK;
            let m = self.stop_mask(buf, base) >> (at - base);
            if m != 0 {
                return (at + m.trailing_zeros() as usize).min(buf.len());
            }
            at = base + BLOCK;
        }
        buf.len()
    }
}

/// Bytes that stop a string: `"`, `\`, control and non-ASCII bytes.
const STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i < 0x20 || i >= 0x80 || i == b'"' as usize || i == b'\\' as usize;
        i += 1;
    }
    t
};

/// [`Kernel::block_mask`] a byte at a time.
#[inline]
fn block_mask_portable(block: &[u8; BLOCK]) -> u64 {
    block.iter().enumerate().fold(0, |m, (i, &b)| m | (u64::from(STOP[usize::from(b)]) << i))
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256,
        _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8, _mm_cmpestrm, _mm_cvtsi128_si32,
        _mm_loadu_si128, _mm_setr_epi8, _SIDD_BIT_MASK, _SIDD_CMP_RANGES, _SIDD_UBYTE_OPS,
    };

    use super::BLOCK;

    /// [`super::Kernel::block_mask`] 32 bytes a step.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn block_mask_avx2(block: &[u8; BLOCK]) -> u64 {
        let quote = _mm256_set1_epi8(b'"' as i8);
        let backslash = _mm256_set1_epi8(b'\\' as i8);
        let space = _mm256_set1_epi8(0x20);
        let mut mask = 0u64;
        for half in 0..2 {
            // SAFETY: `half * 32 + 32 <= 64 == block.len()`, so the 32 bytes read are inside
            // `block`; the unaligned load has no alignment requirement.
            let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(half * 32).cast::<__m256i>()) };
            // Signed compare: 0x20 > b holds for control bytes and for every byte >= 0x80.
            let stop = _mm256_or_si256(
                _mm256_or_si256(_mm256_cmpeq_epi8(v, quote), _mm256_cmpeq_epi8(v, backslash)),
                _mm256_cmpgt_epi8(space, v),
            );
            mask |= u64::from(_mm256_movemask_epi8(stop) as u32) << (half * 32);
        }
        mask
    }

    /// [`super::Kernel::block_mask`] 16 bytes a step with `pcmpestrm` over byte ranges.
    ///
    /// # Safety
    ///
    /// The CPU must support SSE4.2.
    #[target_feature(enable = "sse4.2")]
    pub(super) unsafe fn block_mask_sse42(block: &[u8; BLOCK]) -> u64 {
        // Four inclusive ranges: control bytes, `"`, `\`, non-ASCII.
        let ranges = _mm_setr_epi8(
            0x00,
            0x1f,
            b'"' as i8,
            b'"' as i8,
            b'\\' as i8,
            b'\\' as i8,
            0x80u8 as i8,
            0xffu8 as i8,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        );
        const MODE: i32 = _SIDD_UBYTE_OPS | _SIDD_CMP_RANGES | _SIDD_BIT_MASK;
        let mut mask = 0u64;
        for quarter in 0..4 {
            // SAFETY: `quarter * 16 + 16 <= 64 == block.len()`, so the 16 bytes read are
            // inside `block`; the unaligned load has no alignment requirement.
            let v = unsafe { _mm_loadu_si128(block.as_ptr().add(quarter * 16).cast::<__m128i>()) };
            let bits = _mm_cmpestrm::<MODE>(ranges, 8, v, 16);
            // The bit mask is in the low 16 bits of the result.
            mask |= u64::from(_mm_cvtsi128_si32(bits) as u32 & 0xffff) << (quarter * 16);
        }
        mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel this CPU has (the portable one always).
    fn kernels() -> Vec<Kernel> {
        KernelKind::ALL.into_iter().filter_map(Kernel::forced).collect()
    }

    /// [`Kernel::string_stop`] a byte at a time.
    fn string_stop_bytes(buf: &[u8], from: usize) -> usize {
        let tail = buf.get(from..).unwrap_or_default();
        tail.iter().position(|&b| STOP[usize::from(b)]).map_or(buf.len(), |p| from + p)
    }

    /// [`Kernel::stop_mask`] a byte at a time.
    fn stop_mask_bytes(buf: &[u8], base: usize) -> u64 {
        (0..BLOCK).fold(0, |m, i| {
            let stop = buf.get(base + i).is_none_or(|&b| STOP[usize::from(b)]);
            m | (u64::from(stop) << i)
        })
    }

    #[test]
    fn portable_is_always_available_and_detect_picks_a_supported_kernel() {
        assert_eq!(
            Kernel::forced(KernelKind::Portable).map(Kernel::kind),
            Some(KernelKind::Portable)
        );
        let d = Kernel::detect();
        assert_eq!(Kernel::forced(d.kind()), Some(d));
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            assert_eq!(d.kind(), KernelKind::Avx2);
        }
    }

    #[test]
    fn each_kernel_finds_every_stop_byte_at_every_offset() {
        let ks = kernels();
        // Under Miri (the portable kernel alone), fewer stops and lengths: still each side
        // of a 16- and a 64-byte boundary (the full lists ran over 25 minutes unfinished).
        let (stops, lens): (&[u8], &[usize]) = if cfg!(miri) {
            (&[b'"', 0x80], &[0, 1, 15, 16, 17, 63, 64, 65])
        } else {
            (
                &[b'"', b'\\', 0x00, 0x1f, 0x80, 0xff, b'\n'],
                &[0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 128, 129],
            )
        };
        for &stop in stops {
            for &len in lens {
                for at in 0..=len {
                    let mut buf = vec![b'7'; len];
                    // 0x7f and 0x20 are plain string bytes, not stops.
                    for (i, b) in buf.iter_mut().enumerate() {
                        if i % 5 == 0 {
                            *b = 0x7f;
                        } else if i % 7 == 0 {
                            *b = b' ';
                        }
                    }
                    if at < len {
                        buf[at] = stop;
                    }
                    for from in [0, at.saturating_sub(1), at] {
                        let want = if at < len && from <= at { at } else { len };
                        for k in &ks {
                            assert_eq!(
                                k.string_stop(&buf, from),
                                want,
                                "{} stop {stop:#x} len {len} at {at} from {from}",
                                k.kind().name()
                            );
                        }
                    }
                    for base in [0, 64, at - at % 64] {
                        for k in &ks {
                            assert_eq!(
                                k.stop_mask(&buf, base),
                                stop_mask_bytes(&buf, base),
                                "{} stop {stop:#x} len {len} at {at} base {base}",
                                k.kind().name()
                            );
                        }
                    }
                }
            }
        }
        for k in &ks {
            assert_eq!(k.string_stop(b"abc", 7), 3, "{}: from past the end", k.kind().name());
            assert_eq!(k.stop_mask(b"abc", 64), u64::MAX, "{}: past the end", k.kind().name());
        }
    }

    proptest::proptest! {
        /// Every kernel agrees with the byte table on arbitrary bytes and start offsets.
        #[test]
        fn kernels_agree_with_the_table(
            // Mostly plain string bytes, so long runs reach the vector loops.
            buf in proptest::collection::vec(
                proptest::prop_oneof![30 => 0x20u8..0x80, 1 => proptest::num::u8::ANY],
                0..200,
            ),
            from in 0usize..210,
        ) {
            let want = string_stop_bytes(&buf, from);
            for k in kernels() {
                proptest::prop_assert_eq!(k.string_stop(&buf, from), want, "{}", k.kind().name());
                let base = from - from % BLOCK;
                proptest::prop_assert_eq!(
                    k.stop_mask(&buf, base),
                    stop_mask_bytes(&buf, base),
                    "{}",
                    k.kind().name()
                );
            }
        }
    }
}
