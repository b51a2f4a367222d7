//! A training step captured once and replayed (`train --graph`, wgpu).
//!
//! A step of Mamba-130m launches ~2,700 kernels, and issuing each one (burn's autodiff, cubecl's
//! launch path, wgpu's encoding) costs more host time than many of them take on a large GPU
//! (BENCHMARKS.md §5). cubecl 0.11 records the launches of a window into a graph on wgpu (the
//! pipelines and bind groups resolved once) and replays it by re-encoding the recorded
//! dispatches. A replay reads and writes the buffers of the capture, so:
//!
//! - every step has one shape: batches are padded to a fixed width;
//! - what changes from step to step lives in device buffers refreshed in place before each
//!   replay: the token ids (and their positions grouped by id, for the embedding gradient), the
//!   pooled rows and the dropout mask of every micro-batch
//!   ([`StepInputs`]), and AdamW's learning rate and bias corrections (`FusedAdamW`);
//! - the optimizer updates weights and moments in place (a copy would leave the replays reading
//!   the old buffers: the capture is refused then);
//! - the AdamW time kept in each parameter's state stops at the capture (replays do not run the
//!   host side of the optimizer): `train` gives the optimizer each step's time itself
//!   (`FusedAdamW::prepare_step`), also after a resume, so the stale count in a saved record is
//!   never used.

use crate::error::{Error, Result};
use crate::models::BatchTensors;
use crate::ops::kernel::{client_of, int_raw};
use crate::reranker::HostBatch;
use burn::backend::wgpu::{CubeBackend, CubeTensor};
use burn::cubecl::bytes::Bytes;
use burn::cubecl::client::Graph;
use burn::tensor::{Device, Tensor, TensorData};

/// The device buffers behind one micro-batch's inputs.
pub struct StepInputs {
    ids: CubeTensor,
    rows: CubeTensor,
    head_mask: Option<CubeTensor>,
    /// the embedding gradient's segments (order, starts, ids): one shape for one batch shape
    segments: Option<[CubeTensor; 3]>,
}

impl StepInputs {
    /// The buffers of an uploaded batch (shared with its tensors).
    pub fn of(t: &BatchTensors) -> Self {
        StepInputs {
            ids: int_raw(&t.ids),
            rows: int_raw(&t.rows),
            head_mask: t.head_mask.as_ref().map(|m| m.clone().inner().try_into_primitive::<CubeBackend>().expect("a float tensor of burn's wgpu backend")),
            segments: t.segments.as_ref().map(|s| [int_raw(&s.order), int_raw(&s.starts), int_raw(&s.ids)]),
        }
    }

    /// Write a new batch of the same shape into the buffers (queued on the stream, so the
    /// replay after it reads the new values and the one before it the old).
    pub fn refresh(&self, host: &HostBatch, head_mask: Option<TensorData>) -> Result<()> {
        write(&self.ids, host.ids.clone(), "token ids")?;
        write(&self.rows, host.rows.clone(), "pooled rows")?;
        match (&self.segments, &host.segments) {
            (Some(buffers), Some(data)) => {
                for (buffer, (d, what)) in buffers.iter().zip(data.iter().zip(["token order", "segment starts", "segment ids"])) {
                    write(buffer, d.clone(), what)?;
                }
            }
            (None, None) => {}
            _ => return Err(Error::Backend("the captured step and this step disagree on the embedding segments".into())),
        }
        match (&self.head_mask, head_mask) {
            (Some(buffer), Some(mask)) => write(buffer, mask, "dropout mask"),
            (None, None) => Ok(()),
            _ => Err(Error::Backend("the captured step and this step disagree on dropout".into())),
        }
    }
}

/// `data` (converted to the buffer's dtype) into `buffer`, which must hold the same shape.
fn write(buffer: &CubeTensor, data: TensorData, what: &str) -> Result<()> {
    if data.shape().as_slice() != buffer.meta.shape().as_slice() {
        return Err(Error::Backend(format!("{what}: shape {:?} differs from the captured step's {:?}", data.shape(), buffer.meta.shape())));
    }
    let data = data.convert_dtype(buffer.dtype);
    buffer.client.write(&buffer.handle, Bytes::from_bytes_vec(data.as_bytes().to_vec()));
    Ok(())
}

/// A captured step: the graph, its inputs and its losses (read after each replay).
pub struct StepGraph {
    graph: Graph,
    pub inputs: Vec<StepInputs>,
    pub losses: Vec<Tensor<1>>,
}

/// Where a `--graph` run stands.
pub enum GraphState {
    /// Eager steps (the first compiles and autotunes the kernels).
    Eager,
    /// `graph_prepare` done: the next eager step is the warm-up run the capture reuses the
    /// memory of.
    WarmingUp,
    /// The warm-up ran: the next step is captured.
    Ready,
    Captured(StepGraph),
}

/// Ask the device to prepare a capture (before the warm-up step).
pub fn prepare(device: &Device) -> Result<()> {
    client_of(device).graph_prepare().map_err(|e| Error::Backend(format!("preparing to capture the training step: {e:?}")))
}

/// Record what `step` launches (nothing runs), then replay it once, so the step is executed.
/// `step` returns the losses and the inputs it read.
pub fn capture(device: &Device, step: impl FnOnce() -> Result<(Vec<Tensor<1>>, Vec<StepInputs>)>) -> Result<StepGraph> {
    let client = client_of(device);
    let refused = |what: &str, e: &dyn std::fmt::Debug| {
        Error::Backend(format!(
            "capturing the training step failed ({what}: {e:?}); the model in memory is not usable: \
             run without --graph, resuming from the last checkpoint"
        ))
    };
    client.start_capture().map_err(|e| refused("start", &e))?;
    let recorded = step();
    let graph = client.stop_capture().map_err(|e| refused("stop", &e))?;
    let (losses, inputs) = recorded?;
    let g = StepGraph { graph, inputs, losses };
    g.replay()?;
    Ok(g)
}

impl StepGraph {
    pub fn replay(&self) -> Result<()> {
        // SAFETY: every buffer the graph touches stays allocated while it lives: the weights,
        // the AdamW moments and the step scalars (held by the model and the optimizer and
        // updated in place), the inputs and the losses (held here), and the step's temporaries
        // (on pages cubecl guards for the graph's lifetime); and every write to them is issued
        // on this thread's stream, ordered against the replays.
        unsafe { self.graph.replay() }.map_err(|e| Error::Backend(format!("replaying the captured training step: {e:?}")))
    }
}
