"""Device-side crop and paste-back (torch grid_sample) against the host path (OpenCV)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rswap.compose.paste import paste_back
from rswap.face.align import align_crop, get_template
from rswap.compose.tensor_warp import crop_faces, paste_faces

TEMPLATE = get_template("ffhq256")


def disk_mask(size: int, radius: float, feather: float = 6.0) -> np.ndarray:
    """A soft disk in the middle of the crop: 1 inside, falling to 0 over `feather` pixels."""
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(xx - size / 2, yy - size / 2)
    return np.clip((radius - r) / feather, 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def two_faces(astronaut, astronaut_face):
    """Two alignments of the astronaut: the detected face, and one rotated, smaller, near the frame's edge."""
    kps = astronaut_face.kps5.astype(np.float32)
    centre = kps.mean(0)
    angle = np.deg2rad(25)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
    other = (kps - centre) @ rot.T * 0.7 + centre + np.array([-150, 120], np.float32)
    return [kps, other]


def host_crops(frame, kps_list):
    crops, Ms = zip(*(align_crop(frame, k, TEMPLATE) for k in kps_list))
    return list(crops), np.stack(Ms)


def test_crop_matches_opencv(astronaut, two_faces):
    crops, Ms = host_crops(astronaut, two_faces)
    device = crop_faces(torch.from_numpy(astronaut), Ms, TEMPLATE.size)
    assert device.shape == (2, 3, TEMPLATE.size, TEMPLATE.size) and device.dtype == torch.float32
    for host, dev in zip(crops, device):
        dev_hwc = dev.permute(1, 2, 0).numpy()
        diff = np.abs(dev_hwc - host.astype(np.float32))[2:-2, 2:-2]
        assert diff.mean() < 2.0, diff.mean()
        assert np.percentile(diff, 99) < 8.0  # no region is off, not only the average


def test_crop_accepts_chw_float(astronaut, two_faces):
    _, Ms = host_crops(astronaut, two_faces)
    from_hwc = crop_faces(torch.from_numpy(astronaut), Ms, 128)
    from_chw = crop_faces(torch.from_numpy(astronaut).permute(2, 0, 1).float(), Ms, 128)
    assert torch.equal(from_hwc, from_chw)


def test_crop_batch_equals_single_calls(astronaut, two_faces):
    _, Ms = host_crops(astronaut, two_faces)
    frame = torch.from_numpy(astronaut)
    batch = crop_faces(frame, Ms, 128)
    singles = torch.cat([crop_faces(frame, Ms[i : i + 1], 128) for i in range(2)])
    assert torch.allclose(batch, singles, atol=1e-2)  # float32 grids from different window origins: ~1e-3


def test_paste_of_unchanged_crop_reproduces_frame(astronaut, two_faces):
    # Crop then paste resamples twice; at 256 px (1.5x the face) bilinear blur alone costs
    # ~2.2 grey levels on the host path too, so the round trip is checked at 512 px (3x).
    template = get_template("ffhq512")
    frame = torch.from_numpy(astronaut)
    host_crop, M = align_crop(astronaut, two_faces[0], template)
    Ms = M[None]
    mask = disk_mask(template.size, 200)
    out = paste_faces(frame, crop_faces(frame, Ms, template.size), torch.from_numpy(mask)[None, None], Ms).numpy()
    assert out.dtype == np.uint8 and out.shape == astronaut.shape

    # Where the mask is fully on, the round trip gives the frame back, as well as OpenCV's does.
    in_frame = cv2_mask_in_frame(mask, M, astronaut.shape[:2])
    inside = in_frame > 0.999
    assert inside.sum() > 10_000
    diff = np.abs(out.astype(np.int16) - astronaut.astype(np.int16))
    host_diff = np.abs(paste_back(astronaut, host_crop, mask, M).astype(np.int16) - astronaut.astype(np.int16))
    assert diff[inside].mean() < 2.0, diff[inside].mean()
    assert diff[inside].mean() <= host_diff[inside].mean() + 0.1
    # Where the mask is zero, nothing changes at all.
    assert diff[in_frame == 0].max() == 0


def cv2_mask_in_frame(mask, M, hw):
    import cv2

    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(mask, M, (hw[1], hw[0]), flags=flags, borderMode=cv2.BORDER_CONSTANT)


def test_paste_matches_paste_back(astronaut, two_faces):
    """A changed crop (colours inverted) pasted on the device matches OpenCV's paste_back."""
    crops, Ms = host_crops(astronaut, two_faces[:1])
    swapped = 255 - crops[0]
    mask = disk_mask(TEMPLATE.size, 100)
    host = paste_back(astronaut, swapped, mask, Ms[0])
    dev_crop = torch.from_numpy(swapped).permute(2, 0, 1).float()[None]
    device = paste_faces(torch.from_numpy(astronaut), dev_crop, torch.from_numpy(mask)[None, None], Ms).numpy()
    diff = np.abs(device.astype(np.int16) - host.astype(np.int16))
    assert (host != astronaut).sum() > 10_000  # the paste really changed the face
    assert diff.mean() < 0.5 and diff.max() <= 2, (diff.mean(), diff.max())


def test_paste_batch_equals_single_calls(astronaut, two_faces):
    frame = torch.from_numpy(astronaut)
    _, Ms = host_crops(astronaut, two_faces)
    crops = 255 - crop_faces(frame, Ms, 128)
    masks = torch.from_numpy(disk_mask(128, 50)).expand(2, 1, 128, 128)
    batch = paste_faces(frame, crops, masks, Ms)
    one_by_one = paste_faces(paste_faces(frame, crops[:1], masks[:1], Ms[:1]), crops[1:], masks[1:], Ms[1:])
    assert torch.equal(batch, one_by_one)
    assert not torch.equal(batch, paste_faces(frame, crops[:1], masks[:1], Ms[:1]))  # the second face counts


def test_paste_keeps_chw_float_layout(astronaut, two_faces):
    frame = torch.from_numpy(astronaut)
    _, Ms = host_crops(astronaut, two_faces[:1])
    crops = 255 - crop_faces(frame, Ms, 128)
    mask = torch.from_numpy(disk_mask(128, 50))[None, None]
    chw = paste_faces(frame.permute(2, 0, 1).float(), crops, mask, Ms)
    hwc = paste_faces(frame, crops, mask, Ms)
    assert chw.shape == (3, *astronaut.shape[:2]) and chw.dtype == torch.float32
    assert (chw.permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).int() - hwc.int()).abs().max() <= 1


def test_face_outside_frame_leaves_it_untouched(astronaut, two_faces):
    frame = torch.from_numpy(astronaut)
    _, Ms = host_crops(astronaut, two_faces[:1])
    Ms = Ms.copy()
    Ms[0, :, 2] += 5000  # the crop's footprint now lies far off the frame
    out = paste_faces(frame, torch.zeros(1, 3, TEMPLATE.size, TEMPLATE.size), torch.ones(1, 1, TEMPLATE.size, TEMPLATE.size), Ms)
    assert torch.equal(out, frame)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(astronaut, two_faces):
    _, Ms = host_crops(astronaut, two_faces)
    frame = torch.from_numpy(astronaut)
    masks = torch.from_numpy(disk_mask(128, 50)).expand(2, 1, 128, 128)
    cpu_crops = crop_faces(frame, Ms, 128)
    gpu_frame = frame.cuda()
    gpu_crops = crop_faces(gpu_frame, Ms, 128)
    assert gpu_crops.is_cuda
    assert (gpu_crops.cpu() - cpu_crops).abs().max() < 1e-2
    cpu_out = paste_faces(frame, 255 - cpu_crops, masks, Ms)
    gpu_out = paste_faces(gpu_frame, 255 - gpu_crops, masks.cuda(), Ms)
    assert gpu_out.is_cuda
    assert (gpu_out.cpu().int() - cpu_out.int()).abs().max() <= 1


def test_paste_in_the_masks_regions_equals_the_whole_footprint(astronaut, two_faces):
    """Given the host's mask regions (paste_region), the paste touches less and gives the same frame."""
    from rswap.compose.paste import paste_region

    frame = torch.from_numpy(astronaut)
    _, Ms = host_crops(astronaut, two_faces)
    crops = 255 - crop_faces(frame, Ms, 128)
    mask = disk_mask(128, 40)
    masks = torch.from_numpy(mask).expand(2, 1, 128, 128)
    regions = [paste_region(astronaut.shape[:2], mask, M) for M in Ms]
    assert all(r is not None for r in regions)
    narrow, full = paste_faces(frame, crops, masks, Ms, regions=regions), paste_faces(frame, crops, masks, Ms)
    diff = (narrow.int() - full.int()).abs()
    assert diff.max() <= 1 and (diff > 0).float().mean() < 1e-3  # float32 grids from other origins: rare rounding flips
    assert not torch.equal(narrow, frame)
    assert torch.equal(paste_faces(frame, crops, masks, Ms, regions=[None, None]), frame)  # nothing to paste
