# Runs INSIDE the chroot beside a GUI GIMP under Xvfb, started by gui.py in the background before
# it opens a dialog (the dialog blocks gui.py until it closes). It acts as the user with xdotool,
# watches the plug-in's trace file ($NST_TRACE: dialog shown, preview shown, job submitted),
# takes screenshots and writes what it saw to OUT/<step>.json.
#   driver.py fast-preview OUT   the Fast dialog: first preview, then another network (Alt+N,
#                                Down), screenshots, Escape
#   driver.py gatys-fit OUT      Neural Style: Alt+A opens Advanced; window geometry; preview
#   driver.py gatys-cancel OUT   Neural Style: OK; once the engine runs the job, GIMP's own
#                                Cancel (the progress bar's button); the engine's job state
#   driver.py after OUT PROBE    after gui.py returned: Edit ▸ Undo twice (clicked); then Fast
#                                Neural Style from GIMP's action search ("/"), OK, and
#                                Filters ▸ Repeat (Ctrl+F); PROBE after each step; then
#                                OUT/undo-done
import json
import os
import subprocess
import sys
import time
import urllib.request

STEP, OUT = sys.argv[1], sys.argv[2]
TRACE = os.environ["NST_TRACE"]
facts = {"step": STEP}


def sh(*cmd):
    return subprocess.run(list(cmd), capture_output=True, text=True).stdout.strip()


def shoot(name):
    sh("import", "-window", "root", os.path.join(OUT, name))


def events(kind=None):
    try:
        lines = open(TRACE).read().splitlines()
    except OSError:
        return []
    out = [json.loads(line) for line in lines if line.strip()]
    return [e for e in out if kind is None or e["event"] == kind]


def wait_event(kind, after=0.0, timeout=30.0, where=lambda e: True):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for e in events(kind):
            if e["t"] > after and where(e):
                return e
        time.sleep(0.05)
    return None


def probe():
    """Forward probe.py to the running GIMP over D-Bus: it records the image's layers."""
    code = f"exec(open('{sys.argv[3]}').read())"
    subprocess.run(["gimp-3.0", "--batch-interpreter=python-fu-eval", "-b", code],
                   capture_output=True, timeout=60)
    time.sleep(1)


def window(title_regex, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        ids = sh("xdotool", "search", "--onlyvisible", "--name", title_regex).split()
        if ids:
            return ids[-1]
        time.sleep(0.1)
    raise RuntimeError("no window " + title_regex)


def largest_window(title_regex):
    ids = sh("xdotool", "search", "--onlyvisible", "--name", title_regex).split()
    return max(ids, key=lambda w: geometry(w)["WIDTH"] * geometry(w)["HEIGHT"])


def key(win, *keys):
    sh("xdotool", "windowfocus", "--sync", win)
    sh("xdotool", "key", "--clearmodifiers", *keys)


def geometry(win):
    text = sh("xdotool", "getwindowgeometry", "--shell", win)
    g = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k: int(g[k]) for k in ("X", "Y", "WIDTH", "HEIGHT")}


def engine_state(job, url):
    cfg = json.load(open("/root/.config/GIMP/3.0/plug-ins/neural-style/nst_config.json"))
    token = open(cfg["token_file"]).read().strip()
    req = urllib.request.Request(url + "/v1/jobs/" + job,
                                 headers={"Authorization": "Bearer " + token})
    return json.load(urllib.request.urlopen(req, timeout=2))["state"]


try:
    if STEP == "fast-preview":
        t0 = time.time()
        win = window("Fast Neural Style")
        shown = wait_event("dialog_shown", after=t0 - 5)
        first = wait_event("preview", after=t0 - 5, timeout=30)
        facts["shown"], facts["first"] = shown, first
        time.sleep(0.5)
        shoot("dialog-fast.png")
        t1 = time.time()
        key(win, "alt+n")
        time.sleep(0.3)
        key(win, "Down")
        facts["second"] = wait_event("preview", after=t1, timeout=30,
                                     where=lambda e: first is None
                                     or e["png_sha1"] != first["png_sha1"])
        time.sleep(0.5)
        shoot("dialog-fast-2.png")
        # Help: the plug-in's guide, not GIMP's manual ("GIMP user manual is missing").
        t2 = time.time()
        key(win, "alt+h")
        facts["help"] = wait_event("help", after=t2, timeout=10)
        time.sleep(1.5)
        shoot("help.png")
        box = sh("xdotool", "search", "--onlyvisible", "--name", "Neural Style help").split()
        facts["help_box"] = bool(box)
        if box:  # no program for the file in the chroot: the message names the guide
            key(box[-1], "Return")  # its Close button
            time.sleep(0.5)
        key(win, "Escape")
    elif STEP == "gatys-fit":
        t0 = time.time()
        win = window("^Neural Style")
        time.sleep(1.0)
        facts["folded"] = geometry(win)
        key(win, "alt+a")
        time.sleep(2.0)
        facts["advanced"] = geometry(win)
        facts["screen"] = sh("xdotool", "getdisplaygeometry")
        facts["preview"] = wait_event("preview", after=t0, timeout=60,
                                      where=lambda e: e["method"] == "arbitrary")
        time.sleep(0.5)
        shoot("dialog-gatys.png")
        t1 = time.time()
        key(win, "alt+p")  # Preview with the real method (low resolution)
        facts["real"] = wait_event("preview", after=t1, timeout=240,
                                   where=lambda e: e["method"] == "gatys")
        facts["real_s"] = facts["real"]["t"] - t1 if facts["real"] else None
        time.sleep(0.5)
        shoot("dialog-gatys-real.png")
        key(win, "Escape")
    elif STEP == "gatys-cancel":
        t0 = time.time()
        win = window("^Neural Style")
        time.sleep(1.5)
        key(win, "alt+o")
        job = wait_event("job_submitted", after=t0, timeout=120)
        facts["job"] = job
        deadline = time.time() + 120
        while time.time() < deadline and engine_state(job["job"], job["url"]) != "running":
            time.sleep(0.2)
        time.sleep(2.0)
        shoot("gatys-running.png")
        wins = [geometry(w) for w in sh("xdotool", "search", "--onlyvisible", "--name",
                                         "GIMP").split()]
        facts["windows"] = wins
        g = max(wins, key=lambda w: w["WIDTH"] * w["HEIGHT"])
        # GIMP's progress bar sits in the image window's status bar, its Cancel button at the
        # bar's right end, left of the docks (measured on gatys-running.png in GIMP 3.0.4's
        # default single-window layout; CANCEL_AT=x,y overrides).
        x, y = (int(v) for v in os.environ.get(
            "CANCEL_AT", f"{g['X'] + g['WIDTH'] - 282},{g['Y'] + g['HEIGHT'] - 18}"
        ).split(","))
        facts["click"] = [x, y]
        t_click = time.time()
        sh("xdotool", "mousemove", str(x), str(y), "click", "1")
        states = []
        while time.time() < t_click + 5:
            s = engine_state(job["job"], job["url"])
            states.append([round(time.time() - t_click, 3), s])
            if s in ("cancelled", "done", "failed"):
                break
            time.sleep(0.05)
        facts["states"] = states
        time.sleep(0.5)
        shoot("gatys-cancelled.png")
    elif STEP == "after":
        time.sleep(3)
        for menu, shot in (("menu1.png", "undo1.png"), ("menu2.png", "undo2.png")):
            sh("xdotool", "mousemove", "59", "12", "click", "1")  # Edit
            time.sleep(1.5)
            shoot(menu)
            sh("xdotool", "mousemove", "100", "37", "click", "1")  # Undo ...
            time.sleep(3)
            shoot(shot)
            probe()
        main = largest_window("GIMP")
        before = set(sh("xdotool", "search", "--onlyvisible", "--name", "").split())
        t0 = time.time()
        key(main, "slash")  # Help ▸ Search and Run a Command
        time.sleep(1.5)
        shoot("search-open.png")
        # Without a window manager the search pop-up does not keep the keyboard by itself (it
        # grows its result list after each letter): focus its newest window before each key.
        facts["popups"] = []
        for ch in "Fast Neural Style":
            popup = [w for w in sh("xdotool", "search", "--onlyvisible", "--name", "").split()
                     if w not in before]
            facts["popups"].append(len(popup))
            if popup:
                sh("xdotool", "windowfocus", "--sync", popup[-1])
            sh("xdotool", "key", "--clearmodifiers", "space" if ch == " " else ch)
            time.sleep(0.15)
        time.sleep(1.5)
        shoot("search-typed.png")
        sh("xdotool", "key", "--clearmodifiers", "Return")
        dlg = window("Fast Neural Style", timeout=30)
        time.sleep(3)
        key(dlg, "alt+o")
        facts["first"] = wait_event("job_submitted", after=t0, timeout=60)
        time.sleep(6)
        shoot("repeat-first.png")
        probe()
        t1 = time.time()
        key(main, "ctrl+f")  # Filters ▸ Repeat "Fast Neural Style"
        facts["repeat"] = wait_event("job_submitted", after=t1, timeout=60)
        time.sleep(6)
        shoot("repeat-second.png")
        probe()
except Exception:
    import traceback

    facts["crash"] = traceback.format_exc()
if STEP == "after":
    open(os.path.join(OUT, "undo-done"), "w").close()
with open(os.path.join(OUT, STEP + ".json"), "w") as fh:
    json.dump(facts, fh, indent=1)
