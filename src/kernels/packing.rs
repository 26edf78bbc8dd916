//! Activation layouts the SIMD kernels (`wasm_simd`, `x86_avx2`) read: zero-padded input
//! planes for the direct dense convolutions, and pixel panels for the sparse GEMM. Scalar
//! code: copies, not kernels.
//!
//! Why planes: a convolution that is not pointwise reads, for each output pixel, a window of the
//! input that may hang over its edges. Copying the input once into planes with the padding
//! written as zeros (plus slack columns for a last, partial tile of pixels) lets the SIMD
//! kernels read the window rows of neighbouring output pixels as consecutive codes, with no
//! bounds tests and no im2col matrix.
//!
//! Why panels: the sparse kernels gather, for each stored weight, one row of X over a tile of
//! pixels; copying each tile's rows contiguously (zeros past `p`) keeps those rows in L1 and
//! lets the last, partial tile run the same full-width loads.

use super::ConvGeometry;

/// The planes' shape for one geometry: `channels × rows × cols` codes.
#[derive(Debug, Clone, Copy)]
pub struct PaddedPlanes {
    /// Rows: every input row any window reads (padding rows included).
    pub rows: usize,
    /// Columns: every column any window reads at horizontal stride `stride_w`, plus `slack`.
    pub cols: usize,
}

impl PaddedPlanes {
    /// The planes for `g` read at horizontal stride `stride_w` (no horizontal dilation), with
    /// `slack` columns past the last window (a kernel reading `tile` pixels at a time needs
    /// `tile · stride_w`).
    pub fn new(g: &ConvGeometry, stride_w: usize, slack: usize) -> Self {
        PaddedPlanes {
            rows: (g.out_h - 1) * g.stride_h + (g.kh - 1) * g.dilation_h + 1,
            cols: (g.out_w - 1) * stride_w + g.kw + slack,
        }
    }

    /// Codes in all planes of `g`.
    pub fn len(&self, g: &ConvGeometry) -> usize {
        g.channels * self.rows * self.cols
    }

    /// Copies `x` (`channels × h × w`) into `planes` (zeroed, [`Self::len`] codes): input
    /// `(iy, ix)` of channel `c` goes to plane row `iy + pad_top`, column `ix + pad_left`
    /// (columns past the planes are never read and not copied).
    pub fn fill(&self, x: &[i16], g: &ConvGeometry, planes: &mut [i16]) {
        let (ph, pw) = (self.rows, self.cols);
        for c in 0..g.channels {
            for py in 0..ph {
                let Some(iy) = py.checked_sub(g.pad_top).filter(|&iy| iy < g.h) else { continue };
                let src = &x[(c * g.h + iy) * g.w..][..g.w];
                let dst = &mut planes[(c * ph + py) * pw..][..pw];
                let first = g.pad_left.min(pw);
                let n = g.w.min(pw - first);
                dst[first..first + n].copy_from_slice(&src[..n]);
            }
        }
    }

    /// Offset of each of the `patch_len` taps (patch order: channel, ty, tx) from an output
    /// pixel's window origin in the planes.
    pub fn tap_offsets(&self, g: &ConvGeometry) -> Vec<usize> {
        let (ph, pw) = (self.rows, self.cols);
        (0..g.patch_len())
            .map(|k| (k / (g.kh * g.kw) * ph + (k / g.kw) % g.kh * g.dilation_h) * pw + k % g.kw)
            .collect()
    }
}

/// Cuts X (`cols × p`) into pixel panels and calls `f(panel, tile, j0, n)` for each: `panel`
/// holds row `c` of X, pixels `j0..j0 + n`, at `c · tile`, zeros past `p`. Tiles are
/// `widths[0]` pixels wide while that many remain, then `widths[1]` for more than
/// `widths[2]`, else `widths[2]`. `panel` is the buffer reused from tile to tile.
pub fn for_each_pixel_panel(
    x: &[i16],
    cols: usize,
    p: usize,
    widths: [usize; 3],
    panel: &mut Vec<i16>,
    mut f: impl FnMut(&[i16], usize, usize, usize),
) {
    let [wide, mid, narrow] = widths;
    let mut j0 = 0;
    while j0 < p {
        let rem = p - j0;
        let tile = if rem >= wide {
            wide
        } else if rem > narrow {
            mid
        } else {
            narrow
        };
        let n = rem.min(tile);
        panel.clear();
        panel.resize(cols * tile, 0);
        for c in 0..cols {
            panel[c * tile..c * tile + n].copy_from_slice(&x[c * p + j0..c * p + j0 + n]);
        }
        f(panel, tile, j0, n);
        j0 += n;
    }
}

/// Codes [`pack_x_kpairs`] writes for X (`cols × p`) in tiles of `tile` pixels.
pub fn kpair_tiles_len(cols: usize, p: usize, tile: usize) -> usize {
    p.div_ceil(tile) * cols.div_ceil(2) * 2 * tile
}

/// Packs X (`cols × p`) into tiles of `tile` pixels of k-pairs, for the dense register blocks:
/// element `(k, j)` goes to `((j / tile) · kp + k / 2) · 2·tile + (j % tile) · 2 + k % 2`
/// (`kp = ceil(cols / 2)`), zeros past `cols` and `p`, in `packed` (zeroed,
/// [`kpair_tiles_len`] codes). `zip(a, b, dst)` interleaves two full rows of a tile (`tile`
/// codes each, k even then odd) into `dst` (`2·tile` codes): the SIMD part; the odd last
/// column and the last, partial tile are copied here.
pub fn pack_x_kpairs(
    x: &[i16],
    cols: usize,
    p: usize,
    tile: usize,
    packed: &mut [i16],
    mut zip: impl FnMut(&[i16], &[i16], &mut [i16]),
) {
    let kp = cols.div_ceil(2);
    let span = 2 * tile;
    for (t, panel) in packed.chunks_exact_mut(kp * span).enumerate() {
        let j0 = tile * t;
        if j0 + tile <= p {
            for k2 in 0..cols / 2 {
                let a = &x[2 * k2 * p + j0..][..tile];
                let b = &x[(2 * k2 + 1) * p + j0..][..tile];
                zip(a, b, &mut panel[k2 * span..][..span]);
            }
            if cols % 2 == 1 {
                let k = cols - 1;
                for l in 0..tile {
                    panel[(k / 2) * span + 2 * l] = x[k * p + j0 + l];
                }
            }
        } else {
            for k in 0..cols {
                for l in 0..p - j0 {
                    panel[(k / 2) * span + 2 * l + k % 2] = x[k * p + j0 + l];
                }
            }
        }
    }
}
