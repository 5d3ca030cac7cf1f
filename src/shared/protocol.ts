/**
 * The one message protocol between the extension host, the engine process and the panel webview.
 * Every message is a discriminated union on `type`; requests carry an `id` echoed by their replies.
 * Pixel and attribution data travel as ArrayBuffers (structured clone / advanced IPC serialisation).
 */

/** Names of the compute backends, in order of preference. */
export type BackendName = 'node' | 'wasm' | 'cpu';
/** Attribution methods. */
export type MethodName =
  | 'vanilla' | 'guided' | 'gradient-x-input'
  | 'smoothgrad' | 'vargrad' | 'integrated-gradients'
  | 'gradcam' | 'gradcam-plus-plus' | 'hirescam' | 'layercam' | 'scorecam' | 'guided-gradcam' | 'occlusion';
/** Every attribution method, in the order the UI lists them. */
export const METHODS: readonly MethodName[] = [
  'vanilla', 'guided', 'gradient-x-input', 'smoothgrad', 'vargrad', 'integrated-gradients',
  'gradcam', 'gradcam-plus-plus', 'hirescam', 'layercam', 'scorecam', 'guided-gradcam', 'occlusion',
];
/** Methods whose map lives at a layer's resolution (class activation maps). */
export const CAM_METHODS: readonly MethodName[] = ['gradcam', 'gradcam-plus-plus', 'hirescam', 'layercam', 'scorecam'];
/** Gradient methods SmoothGrad/VarGrad can average. */
export type SmoothBase = 'vanilla' | 'guided' | 'gradient-x-input';
/** Integrated Gradients baselines: zeros in preprocessed space (Captum's default), black/white images, blur, noise. */
export type BaselineName = 'zero' | 'black' | 'white' | 'blur' | 'uniform';
/** All Integrated Gradients baselines. */
export const BASELINES: readonly BaselineName[] = ['zero', 'black', 'white', 'blur', 'uniform'];

/** Parameters of the multi-pass methods; every field has a documented default. */
export interface MethodOptions {
  /** SmoothGrad/VarGrad: number of noisy samples (default 25). */
  samples?: number;
  /** SmoothGrad/VarGrad: noise σ as a fraction of the input's value range (default 0.15). */
  noise?: number;
  /** SmoothGrad: average squared gradients instead of gradients (default false). */
  squared?: boolean;
  /** SmoothGrad/VarGrad: the gradient being smoothed (default vanilla). */
  smoothBase?: SmoothBase;
  /** Integrated Gradients: points where gradients are evaluated (default 50). */
  steps?: number;
  /** Integrated Gradients baseline (default zero). */
  baseline?: BaselineName;
  /** Integrated Gradients quadrature (default trapezoid, as Captum's riemann_trapezoid). */
  integration?: 'trapezoid' | 'gauss-legendre';
  /** CAM methods: the layer (node) name; default the last layer with a spatial output. */
  layer?: string;
  /** Occlusion: patch side in input pixels (default: a seventh of the input side, at least 4). */
  patch?: number;
  /** Occlusion: stride in input pixels (default: half the patch). */
  stride?: number;
  /** Occlusion: the value patches are set to, in preprocessed space (default 0). */
  occlusionValue?: number;
  /** Internal batch size of multi-pass methods (default: SmoothGrad/VarGrad, IG and occlusion fit it to a memory budget; others 16). */
  batch?: number;
  /** Seed of the random numbers (noise, random baselines, randomisation check); default 0. */
  seed?: number;
  /** Compute faithfulness metrics (deletion/insertion AUC, randomisation check) with the map. */
  metrics?: boolean;
}

/** One point list of a deletion or insertion curve: the target probability after each fraction of pixels. */
export interface FaithfulnessCurve {
  fractions: number[];
  scores: number[];
  auc: number;
}

/** Faithfulness measurements of a map. */
export interface FaithfulnessMetrics {
  /** Petsiuk et al. (RISE): remove the most salient pixels first; lower AUC is better. */
  deletion?: FaithfulnessCurve;
  /** Insert the most salient pixels into a blurred image first; higher AUC is better. */
  insertion?: FaithfulnessCurve;
  /** Adebayo et al.: Spearman correlation of the map after cumulatively re-initialising layers from the top. */
  randomization?: Array<{ layer: string; spearman: number }>;
  /** Integrated Gradients: |Σ attribution − (f(x) − f(x₀))| / |f(x) − f(x₀)|. */
  completeness?: { sum: number; delta: number; gap: number };
}
/** Preprocessing presets mapping 0–255 RGB pixels to the model's input range. */
export type PreprocessName = 'unit' | 'symmetric' | 'imagenet' | 'caffe' | 'raw';
/** All preprocessing presets. */
export const PREPROCESS_PRESETS: readonly PreprocessName[] = ['unit', 'symmetric', 'imagenet', 'caffe', 'raw'];
/** How an image is fitted to the model's input size. */
export type ResizeMode = 'squash' | 'center-crop';
/** Channel reductions that turn an [H,W,C] attribution into an [H,W] map. */
export type ReduceMode = 'max-abs' | 'max' | 'l2';
/** Colour maps for display. */
export type ColormapName = 'viridis' | 'inferno' | 'jet' | 'gray' | 'diverging';
/** All colour maps. */
export const COLORMAPS: readonly ColormapName[] = ['viridis', 'inferno', 'jet', 'gray', 'diverging'];

/** How a model file is read and fed. */
export interface ModelOptions {
  modelPath: string;
  /** Overrides the preset from the model's settings file / the default. */
  preprocess?: PreprocessName;
  resize?: ResizeMode;
  /** Path of a labels file overriding the ones found beside the model. */
  labelsPath?: string;
}

/** A class prediction. */
export interface Prediction {
  index: number;
  label: string;
  probability: number;
}

/** What is known of a loaded model. */
export interface ModelInfo {
  path: string;
  format: 'tfjs-layers' | 'tfjs-graph' | 'onnx';
  /** The input shape in the model's own layout, batch as -1 (e.g. [-1,224,224,3] or [-1,3,224,224]). */
  inputShape: number[];
  layout: 'NHWC' | 'NCHW';
  numClasses: number;
  /** 'softmax' for single-label heads, 'sigmoid' for single-logit / multi-label heads. */
  scoring: 'softmax' | 'sigmoid';
  /** Where labels came from: 'model', a file path, 'imagenet-guess' or 'none'. */
  labelSource: string;
  preprocess: PreprocessName;
  /** Where the preprocessing came from: 'option', 'settings-file' or 'default'. */
  preprocessSource: 'option' | 'settings-file' | 'default';
  /** Model file modification time (ms since epoch): the checkpoint time shown in the panel. */
  mtimeMs: number;
  notes: string[];
}

/** A request for an attribution map. */
export interface ExplainParams extends ModelOptions {
  imagePath: string;
  method: MethodName;
  /** Class index or label; undefined means the top-1 prediction. */
  target?: number | string;
  topK?: number;
  options?: MethodOptions;
}

/** An image as RGBA bytes. */
export interface RgbaImage {
  width: number;
  height: number;
  /** width*height*4 bytes. */
  data: ArrayBuffer;
}

/** An attribution with respect to the preprocessed input, [H, W, C] float32, C order. */
export interface Attribution {
  height: number;
  width: number;
  channels: number;
  data: ArrayBuffer;
  /** True when the map is signed (vanilla, gradient×input) rather than non-negative. */
  signed: boolean;
}

/** The result of a predict request. */
export interface PredictResult {
  backend: BackendName;
  model: ModelInfo;
  predictions: Prediction[];
  timingMs: { load: number; inference: number };
}

/** The result of an explain request. */
export interface ExplainResult extends PredictResult {
  method: MethodName;
  target: { index: number; label: string };
  timingMs: { load: number; inference: number; attribution: number };
  /** The model's input image after resizing, as the user sees it. */
  input: RgbaImage;
  /** For CAM methods the raw map at layer resolution (channels 1); otherwise [H, W, C] at input resolution. */
  attribution: Attribution;
  /** The layer a CAM method used. */
  layer?: string;
  metrics?: FaithfulnessMetrics;
}

/** One entry of a model's layer listing. */
export interface LayerInfo {
  name: string;
  op: string;
  /** Output shape in the model's own layout with -1 for the batch, when known. */
  outputShape: number[] | null;
  /** True when the output has spatial dimensions (a candidate for CAM methods / filters). */
  spatial: boolean;
}

/** What feature visualisation maximises: a channel's mean activation, the channel at the layer's centre, a class logit or probability. */
export type FeatureObjective = 'channel' | 'neuron' | 'logit' | 'probability';
/** Every feature visualisation objective. */
export const FEATURE_OBJECTIVES: readonly FeatureObjective[] = ['channel', 'neuron', 'logit', 'probability'];
/** How the optimised image is parameterised: plain pixels, or a 1/f-scaled Fourier spectrum with decorrelated colour. */
export type FeatureParam = 'pixel' | 'fourier';

/** Parameters of activation maximisation (filters) and DeepDream; every field has a documented default. */
export interface FeatureVisOptions {
  /** Default 'channel'. DeepDream without filters maximises the whole layer (mean of squared activations). */
  objective?: FeatureObjective;
  /** Default 'fourier' (ignored in FlashTorch mode and by DeepDream, which optimise pixels). */
  param?: FeatureParam;
  /** Optimisation steps (default 128; FlashTorch mode 30; DeepDream 20 per octave). */
  steps?: number;
  /** Side of the square image optimised (default: the model's input size). */
  size?: number;
  /** Seed of the start image and of the random transforms (default 0). */
  seed?: number;
  /** 'adam' (default) or 'rms' (FlashTorch's step: gradient / RMS(gradient) × lr). */
  optimizer?: 'adam' | 'rms';
  /** Step size (default: Adam 0.05; rms 1 in FlashTorch mode, 0.02 for DeepDream). */
  lr?: number;
  /** Weight of the L2 penalty on the image's distance from grey (default 0). */
  l2?: number;
  /** Weight of the total-variation penalty (default 0). */
  tv?: number;
  /** Random padding, jitter, scale and rotation each step (default true; false in FlashTorch mode). */
  transforms?: boolean;
  /**
   * Selectivity: while optimising a channel, neuron or logit, subtract this times the strongest other channel
   * (class) of the layer; reported values are the plain objective (default 0.75; 0 = lucid's plain objective;
   * 0 in FlashTorch mode; not used for probabilities, which already compete).
   */
  contrast?: number;
  /** Minimise the objective instead (default false). */
  negative?: boolean;
  /** FlashTorch-compatible: no regularisation, rms step, 30 steps, uniform noise in [150,180) before preprocessing. */
  flashtorch?: boolean;
  /** Filters optimised together as one batch (default 8). */
  batch?: number;
  /** Send intermediate images every N steps (0 = never; the engine process defaults to steps/8). */
  imageEvery?: number;
  /** DeepDream: number of octaves (default 3). */
  octaves?: number;
  /** DeepDream: size ratio between octaves (default 1.4). */
  octaveScale?: number;
}

/** A request to visualise filters (or classes, for logit/probability objectives) of a layer. */
export interface VisualizeFiltersParams extends ModelOptions {
  /** Layer (node) name; optional for logit/probability objectives (the model's class scores). */
  layer?: string;
  /** Channel (or class) indices; default the first `count`. */
  filters?: number[];
  /** How many filters when `filters` is absent (default 16, capped at the layer's channels). */
  count?: number;
  options?: FeatureVisOptions;
}

/** A DeepDream request: start from an image and maximise a layer's (or its filters') activation. */
export interface DreamParams extends ModelOptions {
  imagePath: string;
  layer: string;
  /** One dream per listed channel; absent: one dream of the whole layer. */
  filters?: number[];
  options?: FeatureVisOptions;
}

/** One visualised filter: its image and the objective on the start image and on the result. */
export interface FilterImage {
  /** Channel or class index; null for a whole-layer dream. */
  index: number | null;
  before: number;
  after: number;
  image: RgbaImage;
}

/** The result of a visualizeFilters or dream request. */
export interface FeatureVisResult {
  backend: BackendName;
  model: ModelInfo;
  layer: string;
  objective: FeatureObjective | 'layer';
  param: FeatureParam | 'input';
  steps: number;
  filters: FilterImage[];
  timingMs: { load: number; optimize: number };
}

/** Requests from the extension (or any client) to the engine process. */
export type EngineRequest =
  | { type: 'predict'; id: number; params: ModelOptions & { imagePath: string; topK?: number } }
  | { type: 'explain'; id: number; params: ExplainParams }
  | { type: 'layers'; id: number; params: { modelPath: string } }
  | { type: 'labels'; id: number; params: ModelOptions }
  | FeatureVisRequest
  | { type: 'cancel'; id: number }
  | { type: 'shutdown' };

/**
 * Feature visualisation requests to the engine process (answered by `filterImages` messages while running,
 * then `visualizeFiltersResult` / `dreamResult`; cancel them with `cancel`). Part of EngineRequest.
 */
export type FeatureVisRequest =
  | { type: 'visualizeFilters'; id: number; params: VisualizeFiltersParams }
  | { type: 'dream'; id: number; params: DreamParams };

/** Error categories: bad user input, cancellation, or a bug. */
export type ErrorKind = 'bad-input' | 'cancelled' | 'internal';

/** Messages from the engine process. */
export type EngineMessage =
  | { type: 'ready'; backend: BackendName; pid: number }
  | { type: 'progress'; id: number; fraction: number; message: string }
  | { type: 'log'; message: string }
  | { type: 'error'; id: number; kind: ErrorKind; message: string }
  | { type: 'predictResult'; id: number; result: PredictResult }
  | { type: 'explainResult'; id: number; result: ExplainResult }
  | { type: 'layersResult'; id: number; result: LayerInfo[] }
  | { type: 'labelsResult'; id: number; result: string[] }
  /** Intermediate images of a visualizeFilters/dream request (every `imageEvery` steps): fills a grid live. */
  | { type: 'filterImages'; id: number; step: number; steps: number; images: FilterImage[] }
  | { type: 'visualizeFiltersResult'; id: number; result: FeatureVisResult }
  | { type: 'dreamResult'; id: number; result: FeatureVisResult };

/** Display settings the webview applies locally without asking the engine. */
export interface DisplaySettings {
  colormap: ColormapName;
  alpha: number;
  clipPercentile: number;
  reduce: ReduceMode;
}

/** One model's column in a panel (two in a comparison). */
export interface PanelSlot {
  /** Short name shown in the panel (folder of a model.json, file name of an .onnx). */
  modelName: string;
  modelPath: string;
  /** The column's attribution method (set when the panel compares two methods on one model). */
  method?: MethodName;
}

/** Messages from the extension host to the panel webview. */
export type ToWebviewMessage =
  /** An empty message ends the busy state of that request. */
  | { type: 'busy'; requestId: number; message: string; slot?: number; fraction?: number }
  | { type: 'result'; requestId: number; slot: number; result: ExplainResult; note?: string; reason?: string }
  /** `cancelled`: the user stopped the request, so what the panel showed before stays valid. */
  | { type: 'error'; requestId: number; message: string; slot?: number; cancelled?: boolean }
  | { type: 'labels'; labels: string[] }
  /** `options`: the panel's method parameters (undefined fields: the engine's defaults). */
  | { type: 'settings'; display: DisplaySettings; method: MethodName; options?: MethodOptions }
  /** The first model's layers (for the CAM layer picker). */
  | { type: 'layers'; modelPath: string; layers: LayerInfo[] }
  /** What the panel is about: the image and the model(s); sent on open and whenever it changes. */
  | { type: 'context'; imagePath: string; imageName: string; slots: PanelSlot[]; methods: readonly MethodName[] };

/** Messages from the panel webview to the extension host. */
export type FromWebviewMessage =
  | { type: 'ready' }
  /** A target of '' means "back to the top-1 prediction". */
  | { type: 'recompute'; method?: MethodName; target?: number | string; options?: MethodOptions }
  | { type: 'displayChanged'; display: DisplaySettings }
  | { type: 'export'; what: 'overlay' | 'npy'; pngData?: ArrayBuffer; slot?: number }
  | { type: 'requestLabels' }
  | { type: 'requestLayers' }
  /** Stop the running computation (as the notification's Cancel does). */
  | { type: 'cancel' }
  /** The overlay of a result is on screen (for the command-to-overlay timing); `renderMs`: the webview's drawing time. */
  | { type: 'rendered'; requestId: number; slot: number; renderMs?: number }
  /** Buttons in the panel that run extension commands. */
  | { type: 'command'; command: 'selectModel' | 'compareModels' | 'compareMethod' | 'stopCompare' };

/** What a feature visualisation panel shows: a filter grid of a layer, or a dream of an image. */
export type FeatureKind = 'filters' | 'dream';

/** The request a feature visualisation panel runs (kept in its webview state to reopen it after a reload). */
export type FeatureJob =
  | { kind: 'filters'; params: VisualizeFiltersParams & { layer: string } }
  | { kind: 'dream'; params: DreamParams };

/** Messages from the extension host to a feature visualisation (filters / dream) panel webview. */
export type ToFeatureWebviewMessage =
  /** What the panel is about; sent on open and on every (re)load of the webview. */
  | { type: 'featureContext'; kind: FeatureKind; title: string; modelName: string; layer: string; filters: (number | null)[]; steps: number; imageName?: string; job?: FeatureJob }
  /** Live intermediate images (step of steps). */
  | { type: 'featureImages'; step: number; steps: number; images: FilterImage[] }
  /** The final images with their before/after objective values. */
  | { type: 'featureResult'; result: FeatureVisResult }
  /** An empty message ends the busy state. */
  | { type: 'featureBusy'; message: string; fraction?: number }
  | { type: 'featureError'; message: string; cancelled: boolean };

/** Messages from a feature visualisation panel webview to the extension host. */
export type FromFeatureWebviewMessage =
  | { type: 'ready' }
  | { type: 'cancel' }
  /** Run the job again (after a cancel, a failure, or a reload that kept no images). */
  | { type: 'rerun' }
  /** PNG files encoded by the webview: every tile, or the enlarged one. */
  | { type: 'exportPngs'; files: { name: string; data: ArrayBuffer }[] };
