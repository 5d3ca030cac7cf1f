/** The --help text of the saliency-lens command. */
import { METHODS } from '../shared/protocol';

/** Usage of every command, with defaults. */
export const HELP = `saliency-lens — saliency maps for image classifiers (TF.js Layers, TF.js Graph, ONNX)

Usage:
  saliency-lens predict [IMAGE] [--model PATH] [--top K] [--labels FILE] [--preprocess P] [--resize R] [--json]
  saliency-lens explain [IMAGE] [--model PATH] [--method M] [--target INDEX|LABEL]
        [--preprocess unit|symmetric|imagenet|caffe|raw] [--resize squash|center-crop]
        [--reduce max-abs|max|l2] [--colormap NAME] [--alpha F] [--clip PERCENTILE]
        [--out DIR] [--raw FILE.npy] [--labels FILE] [--backend node|wasm|cpu] [--json]
  saliency-lens layers [--model PATH] [--json]

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
  --top K            number of predictions to show (default 5)
  --labels FILE      class names, one per line (default: labels.txt / labels.json / classes.txt beside the model)
  --backend B        node | wasm | cpu (default: the SALIENCY_LENS_BACKEND variable, else the best that loads)
  --json             print one JSON object on stdout instead of text
  --debug            print stack traces of internal errors

Exit codes: 0 success, 2 bad input (one line on stderr naming the file and the problem), 1 internal error.
`;
