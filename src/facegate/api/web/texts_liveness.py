"""The liveness check's texts on the enrol and identify pages, English and Simplified
Chinese, merged into ``i18n.TEXTS`` (kept apart so areas add texts without editing one dict)."""

from __future__ import annotations

LIVENESS_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "liveness.check": "Liveness check",
        "liveness.need_camera": "Start the camera first.",
        "liveness.ready": "Look straight at the camera…",
        "liveness.step.left": "Turn your head to YOUR LEFT, then back to the centre",
        "liveness.step.right": "Turn your head to YOUR RIGHT, then back to the centre",
        "liveness.step.up": "Tilt your head UP, then back to the centre",
        "liveness.checking": "Checking…",
        "liveness.live": "Live person: all {n} steps passed.",
        "liveness.spoof": "Not confirmed as a live person ({reason}). Try again.",
        "liveness.passed": "done",
        "liveness.failed": "not seen",
        "liveness.reason.timeout": "the steps were not seen in time",
        "liveness.reason.flat": "the face looked flat, like a photo",
        "liveness.reason.wrong_direction": "the head turned the wrong way",
        "liveness.reason.planar_motion": "the face moved like a flat picture",
        "liveness.reason.model_says_spoof": "the anti-spoofing model said no",
    },
    "zh": {
        "liveness.check": "活体检测",
        "liveness.need_camera": "请先打开摄像头。",
        "liveness.ready": "请正对摄像头…",
        "liveness.step.left": "请把头转向您的左边，然后转回正面",
        "liveness.step.right": "请把头转向您的右边，然后转回正面",
        "liveness.step.up": "请抬头，然后转回正面",
        "liveness.checking": "正在检测…",
        "liveness.live": "活体：{n} 个动作全部通过。",
        "liveness.spoof": "未能确认为活体（{reason}），请重试。",
        "liveness.passed": "通过",
        "liveness.failed": "未检测到",
        "liveness.reason.timeout": "未在规定时间内完成动作",
        "liveness.reason.flat": "人脸看起来是平的，像照片",
        "liveness.reason.wrong_direction": "转头方向不对",
        "liveness.reason.planar_motion": "人脸像平面图片一样移动",
        "liveness.reason.model_says_spoof": "防伪模型判定为非活体",
    },
}
