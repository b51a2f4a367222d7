//! The wasm-bindgen API under the npm package (`pkg/index.js` wraps it): build a [`Reranker`]
//! from files the JavaScript side fetched, on WebGPU or on the CPU inside wasm, and score in
//! batches whose readback is awaited so the page (or worker) stays responsive.

use crate::error::Error;
use crate::loader::MemoryFiles;
use crate::reranker::{Reranker, RerankerOptions};
use crate::tokenizer::Mode;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

fn js_err(e: Error) -> JsValue {
    js_sys::Error::new(&e.to_string()).into()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LoadOptions {
    /// `auto` (WebGPU, else the CPU), `webgpu` or `cpu`.
    device: Option<String>,
    max_length: Option<usize>,
    batch_size: Option<usize>,
    /// `exact` or `rankmamba-v1` (see `Mode`).
    mode: Option<String>,
    /// Where the files came from (a URL or a name), for messages.
    source: Option<String>,
}

/// The adapter a WebGPU ranker runs on and the limits the device was created with.
#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Adapter {
    name: String,
    vendor: u32,
    backend: String,
    shader_f16: bool,
    max_storage_buffer_binding_size: u64,
    max_buffer_size: u64,
}

/// `ModelInfo` plus what only the browser build knows.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Info<'a> {
    #[serde(flatten)]
    model: &'a crate::reranker::ModelInfo,
    /// Compute dtype: weights are widened to f32 at load.
    dtype: &'static str,
    adapter: Option<&'a Adapter>,
    batch_size: usize,
    warnings: &'a [String],
}

/// A loaded model; `pkg/index.js` wraps it as `Reranker`.
#[wasm_bindgen]
pub struct WasmReranker {
    inner: Option<Rc<Reranker>>,
    adapter: Option<Adapter>,
    device: Device,
}

/// Milliseconds from `performance.now()` (pages, workers and Node.js all have it).
fn now() -> f64 {
    js_sys::Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| js_sys::Reflect::get(&p, &"now".into()).ok().and_then(|f| f.dyn_into::<js_sys::Function>().ok()).map(|f| (p, f)))
        .and_then(|(p, f)| f.call0(&p).ok())
        .and_then(|v| v.as_f64())
        .unwrap_or_else(js_sys::Date::now)
}

/// Whether this global scope has `navigator.gpu` (browsers with WebGPU; not Node).
fn has_webgpu() -> bool {
    let nav = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).unwrap_or(JsValue::UNDEFINED);
    !nav.is_undefined() && js_sys::Reflect::get(&nav, &"gpu".into()).map(|g| !g.is_undefined() && !g.is_null()).unwrap_or(false)
}

thread_local! {
    /// One WebGPU device per page or worker, shared by every ranker (like the native process
    /// wide runtime), so disposing one ranker leaves the others working.
    static WEBGPU: std::cell::RefCell<Option<Result<(Device, Adapter), String>>> = const { std::cell::RefCell::new(None) };
}

async fn webgpu() -> Result<(Device, Adapter), String> {
    if let Some(r) = WEBGPU.with(|w| w.borrow().clone()) {
        return r;
    }
    let r = match Device::wgpu_options().init_with_setup_async().await {
        Ok((device, setup)) => {
            let info = setup.adapter.get_info();
            let limits = setup.device.limits();
            crate::device::set_wasm_features(setup.device.features());
            let adapter = Adapter {
                name: if info.name.is_empty() { "(unnamed WebGPU adapter)".into() } else { info.name },
                vendor: info.vendor,
                backend: format!("{:?}", info.backend),
                shader_f16: crate::device::wgpu_has_shader_f16(),
                max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
                max_buffer_size: limits.max_buffer_size,
            };
            Ok((device, adapter))
        }
        Err(e) => Err(e.to_string()),
    };
    WEBGPU.with(|w| *w.borrow_mut() = Some(r.clone()));
    r
}

/// Load a model from `files` (file name → `Uint8Array`: `config.json`, `tokenizer.json`,
/// `model.safetensors` or the shard index and its shards).
#[wasm_bindgen(js_name = loadReranker)]
pub async fn load_reranker(files: js_sys::Map, options: JsValue) -> Result<WasmReranker, JsValue> {
    let opts: LoadOptions = if options.is_undefined() || options.is_null() {
        LoadOptions::default()
    } else {
        serde_wasm_bindgen::from_value(options).map_err(|e| js_sys::Error::new(&format!("invalid load options: {e}")))?
    };
    let mut ro = RerankerOptions::default();
    if let Some(m) = opts.max_length {
        ro.max_length = m;
    }
    if let Some(b) = opts.batch_size {
        ro.batch_size = b;
    }
    if let Some(m) = &opts.mode {
        ro.mode = m.parse::<Mode>().map_err(js_err)?;
    }
    let mut map = BTreeMap::new();
    let mut bad = None;
    files.for_each(&mut |value, key| {
        let name = key.as_string().unwrap_or_default();
        match value.dyn_into::<js_sys::Uint8Array>() {
            Ok(a) => {
                map.insert(name, a.to_vec().into());
            }
            Err(_) => bad = Some(name),
        }
    });
    if let Some(name) = bad {
        return Err(js_sys::Error::new(&format!("file `{name}`: expected a Uint8Array")).into());
    }
    let files = MemoryFiles { source: opts.source.unwrap_or_default(), files: map };

    let want = opts.device.as_deref().unwrap_or("auto");
    let mut warnings = Vec::new();
    let (device, adapter) = match want {
        "cpu" => (Device::flex(), None),
        "webgpu" | "auto" => {
            let gpu = if has_webgpu() { webgpu().await } else { Err("navigator.gpu is not available".into()) };
            match (gpu, want) {
                (Ok((d, a)), _) => (d, Some(a)),
                (Err(e), "webgpu") => return Err(js_sys::Error::new(&format!("WebGPU is not available: {e}")).into()),
                (Err(e), _) => {
                    warnings.push(format!("WebGPU is not available ({e}): running on the CPU"));
                    (Device::flex(), None)
                }
            }
        }
        other => return Err(js_sys::Error::new(&format!("unknown device `{other}` (expected auto, webgpu or cpu)")).into()),
    };
    let name = if adapter.is_some() { "webgpu" } else { "cpu" };
    let mut reranker = Reranker::load_files(&files, device.clone(), name, ro).map_err(js_err)?;
    drop(files);
    reranker.prepend_warnings(warnings);
    Ok(WasmReranker { inner: Some(Rc::new(reranker)), adapter, device })
}

#[wasm_bindgen]
impl WasmReranker {
    fn get(&self) -> Result<Rc<Reranker>, JsValue> {
        self.inner.clone().ok_or_else(|| js_sys::Error::new("this Reranker was disposed").into())
    }

    /// What was loaded and where it runs.
    #[wasm_bindgen(getter)]
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let r = self.get()?;
        let info = Info { model: r.info(), dtype: "f32", adapter: self.adapter.as_ref(), batch_size: r.options().batch_size, warnings: r.warnings() };
        info.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|e| js_sys::Error::new(&e.to_string()).into())
    }

    /// Raw scores of `documents` for `query`, in input order: a Promise of `{ scores:
    /// Float32Array, tokenizeMs, scoreMs }`. `after_batch(done)` is awaited after each batch; a
    /// rejection stops the scoring and becomes its result (the package uses it for progress,
    /// yielding and AbortSignal).
    pub fn score(
        &self,
        query: String,
        documents: Vec<String>,
        batch_size: Option<usize>,
        after_batch: Option<js_sys::Function>,
    ) -> Result<js_sys::Promise, JsValue> {
        let r = self.get()?;
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let t0 = now();
            let mut job = r.start_job(&query, &documents, batch_size).map_err(js_err)?;
            let t1 = now();
            let mut waited = 0.0;
            while r.step_async(&mut job).await.map_err(js_err)? {
                if let Some(f) = &after_batch {
                    let w = now();
                    let ret = f.call1(&JsValue::NULL, &JsValue::from(job.done() as u32))?;
                    if let Ok(p) = ret.dyn_into::<js_sys::Promise>() {
                        wasm_bindgen_futures::JsFuture::from(p).await?;
                    }
                    waited += now() - w;
                }
            }
            let t2 = now();
            let out = js_sys::Object::new();
            js_sys::Reflect::set(&out, &"scores".into(), &js_sys::Float32Array::from(&job.into_scores()[..]))?;
            js_sys::Reflect::set(&out, &"tokenizeMs".into(), &(t1 - t0).into())?;
            js_sys::Reflect::set(&out, &"scoreMs".into(), &(t2 - t1 - waited).into())?;
            Ok(out.into())
        }))
    }

    /// Free the weights; pooled GPU memory no other ranker uses goes back to the device.
    pub fn dispose(&mut self) {
        if self.inner.take().is_some() {
            self.device.memory_cleanup();
        }
    }
}
