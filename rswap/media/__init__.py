"""Video and image I/O (PyAV, OpenCV) with atomic writes."""
