//! The f32 operators that multiply and accumulate: Einstein sums (attention, pointwise
//! layers kept in f32), direct convolutions, transposed convolutions and pooling. They run
//! the few layers a compression plan keeps in f32, so they are written for clarity with
//! contiguous inner loops that LLVM vectorises, not tuned like the int8 kernels.

use super::array::{bad, Array};
use super::program::{Pad, PoolOp, Window};
use crate::error::Result;

/// Output size and leading padding along one spatial axis (ONNX's rules, as the int8
/// layers compute them).
pub fn conv_axis(w: &Window, size: usize, a: usize) -> Result<(usize, usize)> {
    super::window_spec(w, 1).axis(size, a)
}

/// The range of output positions `o` for which `o·s + off` falls in `0..size`.
fn valid_range(out: usize, s: usize, off: isize, size: usize) -> (usize, usize) {
    // o·s + off ≥ 0  ⇔  o ≥ ceil(−off / s)
    let lo = if off >= 0 { 0 } else { ((-off) as usize).div_ceil(s) };
    // o·s + off ≤ size − 1  ⇔  o ≤ floor((size − 1 − off) / s)
    let top = size as isize - 1 - off;
    let hi = if top < 0 { 0 } else { (top as usize / s + 1).min(out) };
    (lo.min(hi), hi)
}

fn nchw(x: &Array, what: &str) -> Result<[usize; 4]> {
    match x.shape[..] {
        [n, c, h, w] if n > 0 && c > 0 && h > 0 && w > 0 => Ok([n, c, h, w]),
        _ => Err(bad(format!("{what} expects a non-empty NCHW input, got shape {:?}", x.shape))),
    }
}

/// A bias of one value or one per output channel.
fn check_bias(bias: Option<&Array>, channels: usize, what: &str) -> Result<()> {
    match bias {
        Some(b) if b.data.len() != 1 && b.data.len() != channels => {
            Err(bad(format!("{what}: a bias of {} values for {channels} output channels", b.data.len())))
        }
        _ => Ok(()),
    }
}

/// f32 convolution; kernel `[O, C/group, kh, kw]`. Compiled for AVX2 where the CPU has it
/// (same operations in the same order, so the same bits).
pub fn conv(x: &Array, k: &Array, bias: Option<&Array>, w: &Window, group: usize) -> Result<Array> {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::x86_avx2::available() {
        // SAFETY: the CPU has AVX2 (checked at run time just above).
        return unsafe { conv_avx2(x, k, bias, w, group) };
    }
    conv_rows(x, k, bias, w, group)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn conv_avx2(x: &Array, k: &Array, bias: Option<&Array>, w: &Window, group: usize) -> Result<Array> {
    conv_rows(x, k, bias, w, group)
}

#[inline(always)]
fn conv_rows(x: &Array, k: &Array, bias: Option<&Array>, w: &Window, group: usize) -> Result<Array> {
    let [n, c, h, wd] = nchw(x, "Conv")?;
    let [o, cg, kh, kw] = nchw(k, "a Conv kernel")?;
    if group == 0 || c != cg * group || o % group != 0 || [kh, kw] != w.kernel {
        return Err(bad(format!("Conv: input {:?}, kernel {:?}, group {group}", x.shape, k.shape)));
    }
    check_bias(bias, o, "Conv")?;
    let (oh, pt) = conv_axis(w, h, 0)?;
    let (ow, pl) = conv_axis(w, wd, 1)?;
    let mut out = Array::zeros(vec![n, o, oh, ow])?;
    let og = o / group;
    let [sh, sw] = w.strides;
    let [dh, dw] = w.dilations;
    // A horizontal stride reads every sw-th value: each input row is first split into its sw
    // phases (values sw apart, side by side), so every tap reads one contiguous run.
    let phases: Vec<(usize, usize)> = (0..sw)
        .scan(0, |at, p| {
            let len = if p < wd { (wd - p).div_ceil(sw) } else { 0 };
            let start = *at;
            *at += len;
            Some((start, len))
        })
        .collect();
    let phased: Vec<f32> = if sw > 1 {
        let mut v = Vec::with_capacity(x.data.len());
        for row in x.data.chunks_exact(wd) {
            for p in 0..sw.min(wd) {
                v.extend(row[p..].iter().step_by(sw));
            }
        }
        v
    } else {
        Vec::new()
    };
    for b in 0..n {
        for oc in 0..o {
            let g = oc / og;
            let plane = &mut out.data[(b * o + oc) * oh * ow..(b * o + oc + 1) * oh * ow];
            if let Some(bias) = bias {
                plane.fill(bias.data[if bias.data.len() == 1 { 0 } else { oc }]);
            }
            for ci in 0..cg {
                let ic = g * cg + ci;
                let plane_in = (b * c + ic) * h * wd..(b * c + ic + 1) * h * wd;
                let src = if sw > 1 { &phased[plane_in] } else { &x.data[plane_in] };
                for ky in 0..kh {
                    let (ylo, yhi) = valid_range(oh, sh, (ky * dh) as isize - pt as isize, h);
                    for kx in 0..kw {
                        let wv = k.data[((oc * cg + ci) * kh + ky) * kw + kx];
                        if wv == 0.0 {
                            continue;
                        }
                        let offx = (kx * dw) as isize - pl as isize;
                        let (xlo, xhi) = valid_range(ow, sw, offx, wd);
                        for oy in ylo..yhi {
                            let iy = oy * sh + ky * dh - pt;
                            let row = &src[iy * wd..(iy + 1) * wd];
                            let dst = &mut plane[oy * ow..(oy + 1) * ow];
                            if sw == 1 {
                                let start = (xlo as isize + offx) as usize;
                                for (d, &s) in dst[xlo..xhi].iter_mut().zip(&row[start..start + (xhi - xlo)])
                                {
                                    *d += wv * s;
                                }
                            } else {
                                // Input column ox·sw + offx = (ox + base)·sw + phase.
                                let (phase, base) =
                                    (offx.rem_euclid(sw as isize), offx.div_euclid(sw as isize));
                                let (start, len) = phases[phase as usize];
                                let run = &row[start..start + len];
                                let first = (xlo as isize + base) as usize;
                                for (d, &s) in dst[xlo..xhi].iter_mut().zip(&run[first..first + (xhi - xlo)])
                                {
                                    *d += wv * s;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// f32 transposed convolution (one group); kernel `[O, C, kh, kw]`, as tract lays it out.
pub fn deconv(x: &Array, k: &Array, bias: Option<&Array>, w: &Window, adj: [usize; 2]) -> Result<Array> {
    let [n, c, h, wd] = nchw(x, "Deconv")?;
    let [o, kc, kh, kw] = nchw(k, "a Deconv kernel")?;
    if kc != c || [kh, kw] != w.kernel {
        return Err(bad(format!("Deconv: input {:?}, kernel {:?}", x.shape, k.shape)));
    }
    check_bias(bias, o, "Deconv")?;
    let pads = match w.padding {
        Pad::Explicit(p) => p,
        Pad::Valid => [0; 4],
        _ => return Err(bad("Deconv with SAME padding".into())),
    };
    let [sh, sw] = w.strides;
    let [dh, dw] = w.dilations;
    let size = |i: usize, s: usize, d: usize, k: usize, a: usize, p0: usize, p1: usize| -> Result<usize> {
        ((i.max(1) - 1) * s + (k - 1) * d + 1 + a)
            .checked_sub(p0 + p1)
            .filter(|&v| v > 0)
            .ok_or_else(|| bad(format!("Deconv output size for input {i} is not positive")))
    };
    let oh = size(h, sh, dh, kh, adj[0], pads[0], pads[2])?;
    let ow = size(wd, sw, dw, kw, adj[1], pads[1], pads[3])?;
    let mut out = Array::zeros(vec![n, o, oh, ow])?;
    // Per output channel and kernel tap: the tap's weighted sum over input channels, one
    // contiguous plane (vectorised), then scattered to its strided output positions.
    let mut tap = vec![0f32; h * wd];
    for b in 0..n {
        for oc in 0..o {
            let plane = &mut out.data[(b * o + oc) * oh * ow..(b * o + oc + 1) * oh * ow];
            if let Some(bias) = bias {
                plane.fill(bias.data[if bias.data.len() == 1 { 0 } else { oc }]);
            }
            for ky in 0..kh {
                for kx in 0..kw {
                    tap.fill(0.0);
                    for ic in 0..c {
                        let wv = k.data[((oc * c + ic) * kh + ky) * kw + kx];
                        let src = &x.data[(b * c + ic) * h * wd..(b * c + ic + 1) * h * wd];
                        for (t, &v) in tap.iter_mut().zip(src) {
                            *t += wv * v;
                        }
                    }
                    let (ylo, yhi) = valid_range(h, sh, (ky * dh) as isize - pads[0] as isize, oh);
                    let (xlo, xhi) = valid_range(wd, sw, (kx * dw) as isize - pads[1] as isize, ow);
                    for iy in ylo..yhi {
                        let oy = iy * sh + ky * dh - pads[0];
                        let row = &mut plane[oy * ow..(oy + 1) * ow];
                        for ix in xlo..xhi {
                            row[ix * sw + kx * dw - pads[1]] += tap[iy * wd + ix];
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Max, average or sum pooling over 2-D windows.
pub fn pool(x: &Array, op: PoolOp, w: &Window) -> Result<Array> {
    let [n, c, h, wd] = nchw(x, "Pool")?;
    let (oh, pt) = conv_axis(w, h, 0)?;
    let (ow, pl) = conv_axis(w, wd, 1)?;
    let mut out = Array::zeros(vec![n, c, oh, ow])?;
    let [kh, kw] = w.kernel;
    let [sh, sw] = w.strides;
    let [dh, dw] = w.dilations;
    for p in 0..n * c {
        let src = &x.data[p * h * wd..(p + 1) * h * wd];
        for oy in 0..oh {
            for ox in 0..ow {
                let (mut acc, mut count) = (if op == PoolOp::Max { f32::NEG_INFINITY } else { 0.0 }, 0usize);
                for ky in 0..kh {
                    let Some(iy) = (oy * sh + ky * dh).checked_sub(pt).filter(|&v| v < h) else { continue };
                    for kx in 0..kw {
                        let Some(ix) = (ox * sw + kx * dw).checked_sub(pl).filter(|&v| v < wd) else {
                            continue;
                        };
                        let v = src[iy * wd + ix];
                        acc = if op == PoolOp::Max { acc.max(v) } else { acc + v };
                        count += 1;
                    }
                }
                out.data[(p * oh + oy) * ow + ox] = match op {
                    PoolOp::Avg { count_include_pad: true } => acc / (kh * kw) as f32,
                    PoolOp::Avg { count_include_pad: false } => acc / count.max(1) as f32,
                    _ => acc,
                };
            }
        }
    }
    Ok(out)
}

/// Einstein summation of two arrays: `"amdbk,ancbk->abmn"`. Letters in both inputs and not
/// in the output are summed; each output letter comes from one input or both.
pub fn einsum(expr: &str, a: &Array, b: &Array) -> Result<Array> {
    let err = || bad(format!("EinSum {expr:?} on shapes {:?} and {:?}", a.shape, b.shape));
    let (ins, out) = expr.split_once("->").ok_or_else(err)?;
    let (la, lb) = ins.split_once(',').ok_or_else(err)?;
    let (la, lb, lo): (Vec<char>, Vec<char>, Vec<char>) =
        (la.chars().collect(), lb.chars().collect(), out.chars().collect());
    if la.len() != a.shape.len() || lb.len() != b.shape.len() {
        return Err(err());
    }
    let mut letters: Vec<char> = lo.clone();
    for &c in la.iter().chain(&lb) {
        if !letters.contains(&c) {
            letters.push(c);
        }
    }
    let size = |c: char| -> Result<usize> {
        let sa = la.iter().position(|&x| x == c).map(|i| a.shape[i]);
        let sb = lb.iter().position(|&x| x == c).map(|i| b.shape[i]);
        match (sa, sb) {
            (Some(x), Some(y)) if x == y || y == 1 => Ok(x),
            (Some(1), Some(y)) => Ok(y),
            (Some(x), None) | (None, Some(x)) => Ok(x),
            _ => Err(err()),
        }
    };
    let sizes: Vec<usize> = letters.iter().map(|&c| size(c)).collect::<Result<_>>()?;
    let repeated = |l: &[char], c: &char| l.iter().filter(|&x| x == c).count() > 1;
    if letters.iter().any(|c| repeated(&la, c) || repeated(&lb, c) || repeated(&lo, c)) {
        return Err(err());
    }
    let stride_of = |labels: &[char], shape: &[usize], c: char| -> usize {
        match labels.iter().position(|&x| x == c) {
            Some(i) if shape[i] > 1 => shape[i + 1..].iter().product(),
            _ => 0,
        }
    };
    let out_shape: Vec<usize> =
        lo.iter().map(|&c| sizes[letters.iter().position(|&x| x == c).unwrap_or(0)]).collect();
    let mut out = Array::zeros(out_shape.clone())?;
    // Strides per letter; output letters adjacent in every operand merge into one loop
    // (a 1×1 convolution's H and W become one row of H·W values).
    let mut sizes = sizes;
    let mut sa: Vec<usize> = letters.iter().map(|&c| stride_of(&la, &a.shape, c)).collect();
    let mut sb: Vec<usize> = letters.iter().map(|&c| stride_of(&lb, &b.shape, c)).collect();
    let mut so: Vec<usize> = letters.iter().map(|&c| stride_of(&lo, &out_shape, c)).collect();
    let mut out_letters: Vec<usize> = (0..lo.len()).collect();
    while out_letters.len() >= 2 {
        let (p, q) = (out_letters[out_letters.len() - 2], out_letters[out_letters.len() - 1]);
        let fits = |s: &[usize]| s[p] == s[q] * sizes[q];
        if sizes[p] > 1 && sizes[q] > 1 && fits(&sa) && fits(&sb) && fits(&so) {
            sizes[q] *= sizes[p];
            sizes[p] = 1;
            out_letters.remove(out_letters.len() - 2);
        } else {
            break;
        }
    }
    for s in [&mut sa, &mut sb, &mut so] {
        for (i, v) in s.iter_mut().enumerate() {
            if sizes[i] == 1 {
                *v = 0;
            }
        }
    }
    // Loops: every letter; the innermost is the output's last letter (contiguous in `out`).
    let inner = *lo.last().ok_or_else(err)?;
    let order: Vec<usize> = (0..letters.len()).filter(|&i| letters[i] != inner && sizes[i] > 1).collect();
    let ii = letters.iter().position(|&c| c == inner).ok_or_else(err)?;
    let (n, ia, ib, io) = (sizes[ii], sa[ii], sb[ii], so[ii]);
    let loops = Loops { order, sizes, sa, sb, so, n, ia, ib, io };
    run_loops(&loops, &a.data, &b.data, &mut out.data);
    Ok(out)
}

/// The loop nest of an Einstein sum: every letter but the innermost in `order`, the
/// innermost (`n` values, strides `ia`, `ib`, `io`) as a row.
struct Loops {
    order: Vec<usize>,
    sizes: Vec<usize>,
    sa: Vec<usize>,
    sb: Vec<usize>,
    so: Vec<usize>,
    n: usize,
    ia: usize,
    ib: usize,
    io: usize,
}

/// Runs the loops, compiled for AVX2 where the CPU has it (rows of 8 lanes instead of SSE2's
/// 4; the same operations in the same order, so the same bits).
fn run_loops(l: &Loops, a: &[f32], b: &[f32], out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::x86_avx2::available() {
        // SAFETY: the CPU has AVX2 (checked at run time just above).
        unsafe { loops_avx2(l, a, b, out) };
        return;
    }
    loops(l, a, b, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn loops_avx2(l: &Loops, a: &[f32], b: &[f32], out: &mut [f32]) {
    loops(l, a, b, out);
}

#[inline(always)]
fn loops(l: &Loops, a: &[f32], b: &[f32], out: &mut [f32]) {
    let Loops { order, sizes, sa, sb, so, n, ia, ib, io } = l;
    let (n, ia, ib, io) = (*n, *ia, *ib, *io);

    let mut idx = vec![0usize; order.len()];
    let (mut pa, mut pb, mut po) = (0usize, 0usize, 0usize);
    'outer: loop {
        let dst = &mut out[po..po + (n - 1) * io + 1];
        match (ia, ib) {
            (0, 1) => {
                let p = a[pa];
                for (d, &q) in dst.iter_mut().zip(&b[pb..pb + n]) {
                    *d += p * q;
                }
            }
            (1, 0) => {
                let q = b[pb];
                for (d, &p) in dst.iter_mut().zip(&a[pa..pa + n]) {
                    *d += p * q;
                }
            }
            _ => {
                for i in 0..n {
                    dst[i * io] += a[pa + i * ia] * b[pb + i * ib];
                }
            }
        }
        let mut k = order.len();
        loop {
            if k == 0 {
                break 'outer;
            }
            k -= 1;
            let l = order[k];
            idx[k] += 1;
            pa += sa[l];
            pb += sb[l];
            po += so[l];
            if idx[k] < sizes[l] {
                break;
            }
            pa -= sa[l] * sizes[l];
            pb -= sb[l] * sizes[l];
            po -= so[l] * sizes[l];
            idx[k] = 0;
        }
    }
}
