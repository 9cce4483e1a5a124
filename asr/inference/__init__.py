"""A loaded model applied to audio: the Recognizer, long-audio segmentation, transcript formats,
ONNX export and int8 quantisation."""
