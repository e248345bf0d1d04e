"""The neural voice's model, made to run the way Stillpoint needs: its noise fed from a seed
(``noise.py``: reproducible clips from one session) and its decoder run in windows of frames
(``decoder.py``: memory flat in a sentence's length); both edit the ONNX model in memory at the
level of protobuf's wire format (``wire.py``)."""
