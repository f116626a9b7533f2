"""Studies built from many cells: `scale`, time per step by data size, width and device, and
where the GPU starts to pay."""

__all__ = ["scale"]
