"""The live page's texts, English and Simplified Chinese, merged into ``i18n.TEXTS``.

Kept apart from i18n.py so that the live view and other areas can add texts without editing
the same dictionary.
"""

from __future__ import annotations

LIVE_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "nav.live": "Live",
        "live.title": "Live view",
        "live.streams": "Streams",
        "live.none": "No stream is active. Start a camera with facegate serve --camera, or "
        "send one with facegate stream.",
        "live.name": "Stream",
        "live.kind": "Kind",
        "live.kind.tcp": "client",
        "live.kind.camera": "camera",
        "live.state": "State",
        "live.fps": "fps",
        "live.latency": "Latency p50 / p95 (ms)",
        "live.drops": "Dropped",
        "live.viewers": "Viewers",
        "live.watch": "Watch",
        "live.watching": "Watching",
        "live.pick": "Pick a stream to watch.",
        "live.events": "Recognitions",
        "live.events.none": "Nothing recognised yet.",
        "live.unknown": "unknown",
        "live.similarity": "similarity",
        "live.disconnected": "Event connection lost; reconnecting…",
        "live.state.idle": "idle",
        "live.state.starting": "starting",
        "live.state.running": "running",
        "live.state.backoff": "reconnecting",
    },
    "zh": {
        "nav.live": "实时",
        "live.title": "实时画面",
        "live.streams": "视频流",
        "live.none": "当前没有活动的视频流。可用 facegate serve --camera 启动摄像头，"
        "或用 facegate stream 发送视频。",
        "live.name": "视频流",
        "live.kind": "类型",
        "live.kind.tcp": "客户端",
        "live.kind.camera": "摄像头",
        "live.state": "状态",
        "live.fps": "帧率",
        "live.latency": "延迟 p50 / p95（毫秒）",
        "live.drops": "丢帧",
        "live.viewers": "观看者",
        "live.watch": "观看",
        "live.watching": "正在观看",
        "live.pick": "请选择要观看的视频流。",
        "live.events": "识别记录",
        "live.events.none": "尚未识别到任何人。",
        "live.unknown": "陌生人",
        "live.similarity": "相似度",
        "live.disconnected": "事件连接已断开，正在重连…",
        "live.state.idle": "空闲",
        "live.state.starting": "启动中",
        "live.state.running": "运行中",
        "live.state.backoff": "重连中",
    },
}
