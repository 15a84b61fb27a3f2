"""Eligibility rules: host facts and a support profile in, criteria and a verdict per GPU out."""

from eflowgpu.rules.judge import GpuResult, judge_gpu, judge_host

__all__ = ["GpuResult", "judge_gpu", "judge_host"]
