// The studio's words in English and Chinese. Elements name their text with data-i18n (and
// data-i18n-placeholder); code asks t(key, {vars}).

const WORDS = {
  en: {
    skip: "Skip to the chat",
    projects: "Projects",
    newProject: "New project",
    language: "Language",
    apiDocs: "API",
    preview: "Preview",
    stageEmpty: "Upload photos, then ask for a video in the chat.",
    scrub: "Position in the video",
    quickPreview: "Quick preview",
    quality: "Quality",
    export: "Export",
    download: "Download MP4",
    backToEditing: "Back to editing",
    chat: "Chat",
    message: "Message to the editor",
    chatPlaceholder: "Make a slideshow with music…",
    send: "Send",
    sugSlideshow: "Make a slideshow",
    sugMusic: "Add calm music",
    sugTitle: "Add a title",
    sugUndo: "Undo",
    cancel: "Cancel",
    media: "Media",
    dropHint: "Drop photos, clips or music here",
    chooseFiles: "Choose files",
    timeline: "Timeline",
    timelineEmpty: "No timeline yet: upload media and ask for a video.",
    credits: "{n} credits",
    untitled: "Untitled project",
    projectOption: "{title} · {when}",
    uploading: "Uploading {pct}%",
    processing: "Checking…",
    uploaded: "Added",
    stillWorking: "Still working… ({s} s)",
    thinking: "Working on it…",
    you: "You",
    editor: "Editor",
    trackVideo: "Video",
    trackAudio: "Music",
    trackText: "Titles",
    tracks: "{n} tracks · {d}",
    queued: "Queued",
    rendering: "Rendering {pct}% · {phase}",
    previewing: "Preview {pct}% · {phase}",
    eta: "about {s} s left",
    done: "Ready · {d}",
    failed: "Failed: {msg}",
    exportDone: "Your video is ready.",
    claimOpening: "Opening the project…",
    claimFailed: "This link is invalid or has expired.",
    phase_queued: "queued",
    phase_decode: "reading media",
    phase_compose: "drawing frames",
    phase_encode: "encoding",
    phase_mux: "finishing",
    err_1001: "Your sign-in expired. Reload the page to sign in again.",
    err_1002: "This project no longer exists. Start a new project.",
    err_2001: "Not enough credits for this request.",
    err_4001: "Not a supported file. Use JPG, PNG, GIF, WebP, HEIC photos; MP4, MOV, WebM, MKV, AVI clips; MP3, WAV, M4A, AAC audio.",
    err_4002: "File too large. Compress it or trim it and try again.",
    err_4003: "That address cannot be fetched.",
    err_4004: "Not found.",
    err_4009: "That export already exists.",
    err_429: "Too many requests. Wait half a minute and try again.",
    err_400: "The request was refused: {msg}",
    err_402: "Export is not available on this plan.",
    err_0: "No connection to the server.",
    err_other: "Something went wrong: {msg}",
    newProjectName: "My video",
  },
  zh: {
    skip: "跳到对话",
    projects: "项目",
    newProject: "新建项目",
    language: "语言",
    apiDocs: "API",
    preview: "预览",
    stageEmpty: "先上传照片，再在对话里让我做一个视频。",
    scrub: "视频中的位置",
    quickPreview: "快速预览",
    quality: "清晰度",
    export: "导出",
    download: "下载 MP4",
    backToEditing: "返回编辑",
    chat: "对话",
    message: "给剪辑助手的消息",
    chatPlaceholder: "用这些照片做一个带音乐的幻灯片…",
    send: "发送",
    sugSlideshow: "做一个幻灯片",
    sugMusic: "加上舒缓的音乐",
    sugTitle: "加一个标题",
    sugUndo: "撤销",
    cancel: "取消",
    media: "素材",
    dropHint: "把照片、视频或音乐拖到这里",
    chooseFiles: "选择文件",
    timeline: "时间线",
    timelineEmpty: "还没有时间线：先上传素材，再让我做视频。",
    credits: "{n} 积分",
    untitled: "未命名项目",
    projectOption: "{title} · {when}",
    uploading: "上传中 {pct}%",
    processing: "检查中…",
    uploaded: "已添加",
    stillWorking: "仍在处理…（{s} 秒）",
    thinking: "处理中…",
    you: "你",
    editor: "剪辑助手",
    trackVideo: "画面",
    trackAudio: "音乐",
    trackText: "字幕",
    tracks: "{n} 条轨道 · {d}",
    queued: "排队中",
    rendering: "渲染 {pct}% · {phase}",
    previewing: "预览 {pct}% · {phase}",
    eta: "约剩 {s} 秒",
    done: "完成 · {d}",
    failed: "失败：{msg}",
    exportDone: "视频已生成。",
    claimOpening: "正在打开项目…",
    claimFailed: "链接无效或已过期。",
    phase_queued: "排队",
    phase_decode: "读取素材",
    phase_compose: "绘制画面",
    phase_encode: "编码",
    phase_mux: "收尾",
    err_1001: "登录已过期，请刷新页面重新登录。",
    err_1002: "项目已不存在，请新建项目。",
    err_2001: "积分不足。",
    err_4001: "不支持的文件。照片：JPG、PNG、GIF、WebP、HEIC；视频：MP4、MOV、WebM、MKV、AVI；音频：MP3、WAV、M4A、AAC。",
    err_4002: "文件太大，请压缩或剪短后再试。",
    err_4003: "无法获取该地址。",
    err_4004: "未找到。",
    err_4009: "该导出已存在。",
    err_429: "请求过于频繁，请等半分钟再试。",
    err_400: "请求被拒绝：{msg}",
    err_402: "当前套餐不能导出。",
    err_0: "无法连接服务器。",
    err_other: "出错了：{msg}",
    newProjectName: "我的视频",
  },
};

// Tool activity chips: the agent's tools (agent/tools*.py) in words; others show their own name.
const TOOLS = {
  en: {
    add_caption: "Caption", add_end_card: "End card", add_media: "Add media", add_title: "Title",
    cut_to_beat: "Cut to the beat", describe: "Timeline", look_at: "Look", duplicate_segment: "Duplicate", edit_text: "Edit text",
    make_slideshow: "Slideshow", move_segment: "Move", move_text: "Move text", redo: "Redo",
    remove_music: "Remove music", remove_segment: "Remove", remove_text: "Remove text",
    remove_title: "Remove title", reorder_segments: "Reorder", replace_segment: "Replace",
    set_aspect: "Aspect", set_clip_volume: "Clip volume", set_duration: "Length", set_fit: "Fit",
    set_motion: "Motion", set_music: "Music", set_seconds_per_photo: "Pace", set_title: "Title",
    set_transition: "Transitions", swap_segments: "Swap", trim_segment: "Trim", undo: "Undo",
  },
  zh: {
    add_caption: "字幕", add_end_card: "片尾", add_media: "添加素材", add_title: "标题",
    cut_to_beat: "踩点剪辑", describe: "查看时间线", look_at: "查看画面", duplicate_segment: "复制片段", edit_text: "修改文字",
    make_slideshow: "幻灯片", move_segment: "移动片段", move_text: "移动文字", redo: "重做",
    remove_music: "移除音乐", remove_segment: "删除片段", remove_text: "删除文字",
    remove_title: "删除标题", reorder_segments: "调整顺序", replace_segment: "替换片段",
    set_aspect: "画幅", set_clip_volume: "片段音量", set_duration: "时长", set_fit: "填充方式",
    set_motion: "镜头运动", set_music: "音乐", set_seconds_per_photo: "节奏", set_title: "标题",
    set_transition: "转场", swap_segments: "交换片段", trim_segment: "裁剪", undo: "撤销",
  },
};

export function toolName(name) {
  return TOOLS[lang][name] || String(name).replaceAll("_", " ");
}

let lang = "en";

export function chooseLanguage(saved) {
  if (saved && WORDS[saved]) return saved;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function setLanguage(next) {
  lang = WORDS[next] ? next : "en";
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
}

export function language() {
  return lang;
}

export function t(key, vars = {}) {
  const text = WORDS[lang][key] ?? WORDS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : ""));
}

// The contract's error codes in words; the server's own message rides along where it helps.
export function errorText(err) {
  const code = err && typeof err.code === "number" ? err.code : -1;
  const key = `err_${code}`;
  if (key in WORDS.en) return t(key, { msg: err.message || "" });
  return t("err_other", { msg: (err && err.message) || String(err) });
}
