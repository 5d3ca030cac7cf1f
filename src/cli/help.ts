/** The --help text of the saliency-lens command. */
import { METHODS } from '../shared/protocol';

/** Usage of every command, with defaults. */
export const HELP = `saliency-lens — saliency maps for image classifiers (TF.js Layers, TF.js Graph, ONNX)

Usage:
  saliency-lens predict [IMAGE] [--model PATH] [--top K] [--labels FILE] [--preprocess P] [--resize R] [--json]
  saliency-lens explain [IMAGE] [--model PATH] [--method M] [--target INDEX|LABEL]
        [--preprocess unit|symmetric|imagenet|caffe|raw] [--resize squash|center-crop]
        [--reduce max-abs|max|l2] [--colormap NAME] [--alpha F] [--clip PERCENTILE]
        [--out DIR] [--raw FILE.npy] [--labels FILE] [--backend node|wasm|cpu] [--threads N] [--workers N] [--json]
        [--kernel-threads N]
        [--samples N] [--noise F] [--squared] [--smooth-base M] [--steps N] [--baseline B]
        [--integration trapezoid|gauss-legendre] [--layer NAME] [--patch N] [--stride N]
        [--occlusion-value V] [--batch N] [--seed S] [--metrics]
  saliency-lens layers [--model PATH] [--json]
  saliency-lens bench [--model PATH] [--method M|predict|activation-maximization|deep-dream] [--layer NAME]
        [--runs N] [--warmup N] [--json]
  saliency-lens filters --model PATH --layer NAME [--filters 0,1,2|--count N]
        [--objective channel|neuron|logit|probability] [--param pixel|fourier] [--steps N] [--size N]
        [--seed S] [--out DIR] [--json] [--negative] [--flashtorch] [--optimizer adam|rms] [--lr F]
        [--l2 F] [--tv F] [--contrast F] [--no-transforms] [--batch N] [--preprocess P]
  saliency-lens dream IMAGE --model PATH --layer NAME [--filters 0,1,2] [--objective channel|neuron]
        [--octaves N] [--octave-scale F] [--steps N] [--size N] [--lr F] [--seed S] [--out DIR] [--json]

Without IMAGE and --model, the embedded demo image and demo model are used.

Options:
  --model PATH       model.json (TF.js Layers or Graph) or .onnx file
  --method M         ${METHODS.join(' | ')} (default: vanilla)
  --target T         class index or label (exact, whole word or substring; ambiguity is an error);
                     default: the top-1 prediction
  --preprocess P     how pixels become model input; default: the model's saliency-lens.json, else unit
                     (unit [0,1], symmetric [-1,1], imagenet mean/std, caffe BGR minus mean 0–255, raw 0–255)
  --resize R         squash (default) or center-crop (short side to size, then centre crop)
  --reduce R         channel reduction for display: max-abs (default), max (signed), l2
  --colormap NAME    viridis (default; diverging for --reduce max), inferno, jet, gray, diverging
  --alpha F          overlay opacity of the map, 0..1 (default 0.5)
  --clip P           percentile at which the map saturates, 50..100 (default 99)
  --out DIR          where the PNGs go (default: ./saliency-lens-out)
  --raw FILE.npy     also write the attribution w.r.t. the preprocessed input, float32 [H, W, C]
                     (CAM methods: the raw map [h, w] at layer resolution, after the ReLU, before any scaling)
  --runs N           bench: timed runs after the warm-up runs (default 10); prints the median in ms
  --warmup N         bench: untimed warm-up runs first (default 2)
                     (activation-maximization: filter 0 of --layer with the filters defaults; deep-dream: the
                     whole --layer with the dream defaults, on noise; their warm-up runs take 2 steps)
  --top K            number of predictions to show (default 5)
  --labels FILE      class names, one per line (default: labels.txt / labels.json / classes.txt beside the model)
  --backend B        node | wasm | cpu (default: the SALIENCY_LENS_BACKEND variable, else the best that loads)
  --threads N        wasm backend threads, 1..8 (default: the SALIENCY_LENS_THREADS variable, else half the CPU
                     cores, at most 4, and at least 2 unless gradient helpers run; 1 = the single-threaded build;
                     falls back to 1 if threads cannot start)
  --workers N        helper threads for the passes of SmoothGrad/VarGrad/IG/occlusion/Score-CAM, 0..3, each with its own copy
                     of the model (default: the SALIENCY_LENS_WORKERS variable, else 1 on wasm/cpu with 2+ cores
                     when a pass takes 15 ms or more; 0 = none)
  --kernel-threads N a thread that takes half of our wasm kernels so one map uses two cores, 0..1 (default: the
                     SALIENCY_LENS_KERNEL_WORKERS variable, else 1 when the wasm threads leave a core free)
Method parameters:
  --samples N        SmoothGrad/VarGrad noisy samples (default 25)
  --noise F          SmoothGrad/VarGrad noise σ as a fraction of the input range (default 0.15)
  --squared          SmoothGrad: average squared gradients
  --smooth-base M    the gradient SmoothGrad/VarGrad average: vanilla (default), guided, gradient-x-input
  --steps N          Integrated Gradients points (default 50; trapezoid: N points from α=0 to 1 inclusive)
  --baseline B       Integrated Gradients baseline: zero (default, preprocessed zeros), black, white, blur, uniform
  --integration Q    trapezoid (default, Captum's riemann_trapezoid) or gauss-legendre
  --layer NAME       CAM methods: layer name (default: the last layer with a spatial output; see 'layers')
  --patch N          Occlusion patch side in pixels (default: a seventh of the input side)
  --stride N         Occlusion stride (default: half the patch)
  --occlusion-value V  value of occluded pixels in preprocessed space (default 0)
  --batch N          internal batch of multi-pass methods (default: SmoothGrad/VarGrad, IG and occlusion as many
                     passes as fit ~384 MB of tensors, at most 8, measured per model; Score-CAM and --metrics 16)
  --seed S           seed of noise, random baselines and the randomisation check (default 0)
  --metrics          also compute deletion/insertion AUCs and the randomisation sanity check
Feature visualisation (filters, dream):
  --layer NAME       the layer whose filters are visualised (optional for --objective logit|probability)
  --filters LIST     filter (channel) or class indices, e.g. 0,1,2 or 4-7; filters default: the first --count
  --count N          filters: how many of the first filters (default 16)
  --objective O      channel (mean activation, default), neuron (the channel at the centre), logit, probability
  --param P          fourier (default: 1/f spectrum, decorrelated colour) or pixel
  --steps N          filters: optimisation steps (default 128; --flashtorch 30); dream: per octave (default 20)
  --size N           side of the square image optimised (default: the model's input size)
  --negative         minimise the objective instead
  --flashtorch       FlashTorch's GradientAscent: pixels, RMS step, lr 1, 30 steps, noise start, no regularisation
  --optimizer O      adam (default) or rms (gradient / RMS(gradient) × lr; default for dream)
  --lr F             step size (default: adam 0.05; --flashtorch 1; dream 0.02)
  --l2 F, --tv F     L2 and total-variation penalty weights (default 0)
  --contrast F       subtract F × the strongest other filter while optimising (default 0.75; 0 = plain)
  --no-transforms    no random padding, jitter, scale and rotation (on by default; dream: jitter only)
  --octaves N        dream: octaves (default 3); --octave-scale F: size ratio between octaves (default 1.4)
  --batch N          filters optimised together (default 8)
  --json             print one JSON object on stdout instead of text
  --debug            print stack traces of internal errors, and why wasm runs on fewer threads than asked

Exit codes: 0 success, 2 bad input (one line on stderr naming the file and the problem), 1 internal error.
`;
