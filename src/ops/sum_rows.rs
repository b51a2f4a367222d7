//! Column sums of a (rows, cols) matrix, `x.sum_dim(0)`: the bias gradients of the linear
//! layers and the split-K partials of their weight gradients (`ops::linear`). On wgpu a
//! hand-written WGSL kernel (`shaders/sum_rows.wgsl`) spreads the rows over many threads; the
//! reference elsewhere is burn's reduction. Used inside backward passes only, on tensors that are
//! not tracked, so it has no backward of its own.

use crate::ops::kernel::{arguments, cube, empty_f32, f32_lanes, is_wgsl_device, kernel_id, plain};
use burn::backend::wgpu::{CubeDim, CubeTensor, KernelSource, SourceKernel, SourceTemplate};
use burn::cubecl::prelude::{CubeCount, KernelId};
use burn::tensor::{DType, Tensor};

const SUM_ROWS_WGSL: &str = include_str!("../../shaders/sum_rows.wgsl");

/// Threads one pass aims for: enough to cover a large GPU's cores several times over, few enough
/// that each thread still sums a run of rows.
const TARGET_THREADS: usize = 1 << 17;
/// The fewest rows a thread sums (fewer only when the matrix has fewer).
const MIN_ROWS_PER_THREAD: usize = 16;

#[derive(Debug)]
struct SumRowsKernel {
    workgroup: u32,
    /// 4 (vec4 columns) or 1
    width: u32,
}

impl KernelSource for SumRowsKernel {
    fn source(&self) -> SourceTemplate {
        SourceTemplate::new(SUM_ROWS_WGSL).register("wg", self.workgroup.to_string()).register("width", self.width.to_string()).register("ty", f32_lanes(self.width))
    }
    fn id(&self) -> KernelId {
        kernel_id::<Self>().info((self.workgroup, self.width))
    }
    fn lang(&self) -> &'static str {
        "wgsl"
    }
}

/// Σ over the rows of `x` (rows, cols): (cols).
pub fn sum_rows(x: Tensor<2>) -> Tensor<1> {
    if !is_wgsl_device(&x.device()) || x.dtype() != DType::F32 {
        return x.sum_dim(0).squeeze_dim(0);
    }
    let [rows, cols] = x.dims();
    plain::<2>(sum_rows_wgpu(cube(x), rows, cols)).reshape([cols])
}

/// Row chunks for one pass over `rows` rows of `groups` column groups: (chunks, rows per chunk).
fn plan(rows: usize, groups: usize, max_chunks: usize) -> (usize, usize) {
    row_chunks(rows, groups, TARGET_THREADS, MIN_ROWS_PER_THREAD, max_chunks)
}

/// How kernels with one thread per (column group, chunk of rows) split `rows`: about `threads`
/// threads, at least `min_rows` rows each (unless there are fewer), at most `max_chunks` chunks
/// (the device's dispatch limit): (chunks, rows per chunk).
pub(crate) fn row_chunks(rows: usize, groups: usize, threads: usize, min_rows: usize, max_chunks: usize) -> (usize, usize) {
    let want = threads.div_ceil(groups.max(1)).min(rows.div_ceil(min_rows.max(1))).clamp(1, max_chunks.max(1));
    let per = rows.div_ceil(want).max(1);
    (rows.div_ceil(per).max(1), per)
}

/// The kernel, pass after pass, on a contiguous f32 (rows, cols): (1, cols).
pub(crate) fn sum_rows_wgpu(mut x: CubeTensor, mut rows: usize, cols: usize) -> CubeTensor {
    let client = x.client.clone();
    let props = client.properties();
    let workgroup = props.hardware.max_units_per_cube.clamp(32, 256);
    let max_chunks = props.hardware.max_cube_count.1 as usize;
    let width = if cols % 4 == 0 { 4 } else { 1 };
    let groups = cols / width;
    loop {
        let (chunks, per) = plan(rows, groups, max_chunks);
        let out = empty_f32(&x, &[chunks, cols]);
        let args = arguments(&[&x, &out], &[rows as u32, groups as u32, per as u32, 0]);
        let count = CubeCount::Static((groups as u32).div_ceil(workgroup), chunks as u32, 1);
        client.launch(Box::new(SourceKernel::new(SumRowsKernel { workgroup, width: width as u32 }, CubeDim::new_1d(workgroup))), count, args);
        x = out;
        rows = chunks;
        if rows == 1 {
            return x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::plan;

    #[test]
    fn plans_cover_every_row_once() {
        for &(rows, groups) in &[(1, 1), (7, 3), (32768, 192), (32768, 20), (100, 100_000), (65_537, 1), (16, 8)] {
            let (chunks, per) = plan(rows, groups, 65_535);
            assert!(chunks * per >= rows && (chunks - 1) * per < rows, "{rows} rows, {groups} groups: {chunks} × {per}");
            assert!(chunks <= 65_535 && chunks >= 1);
            assert!(per >= MIN.min(rows), "{rows} rows: {per} per chunk");
        }
        // a bias gradient of a 64 × 512 step: many chunks, so many threads
        let (chunks, _) = plan(32768, 192, 65_535);
        assert!(chunks * 192 >= 1 << 16);
    }
    const MIN: usize = super::MIN_ROWS_PER_THREAD;
}
