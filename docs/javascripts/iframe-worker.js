// Search from file://: a page opened from disk may not start a Web Worker, so the theme's
// search worker runs here in a hidden same-origin iframe instead. The class below offers the
// part of the Worker interface the theme uses (postMessage, "message" events, terminate).
// Named "iframe-worker" so that the theme's offline plugin adds no shim of its own from
// the network (see mkdocs.yml, extra.polyfills).
(function () {
  "use strict";
  if (location.protocol !== "file:") {
    return;
  }

  class FrameWorker extends EventTarget {
    constructor(url) {
      super();
      this.queue = [];
      this.frame = document.createElement("iframe");
      this.frame.hidden = true;
      this.frame.setAttribute("aria-hidden", "true");
      this.frame.srcdoc = "<!doctype html><title>worker</title>";
      this.frame.addEventListener("load", () => this.start(new URL(url, location.href).href),
                                  { once: true });
      (document.body || document.documentElement).appendChild(this.frame);
    }

    start(src) {
      const frameWindow = this.frame.contentWindow;
      // The worker's postMessage(data) is a "message" event on this object.
      frameWindow.postMessage = (data) => {
        this.dispatchEvent(new MessageEvent("message", { data: data }));
      };
      const script = frameWindow.document.createElement("script");
      script.src = src;
      script.addEventListener("load", () => {
        this.window = frameWindow;
        this.queue.splice(0).forEach((data) => this.postMessage(data));
      });
      script.addEventListener("error", () => {
        console.error("search: could not load its worker script " + src);
      });
      frameWindow.document.body.appendChild(script);
    }

    postMessage(data) {
      if (!this.window) {
        this.queue.push(data);
        return;
      }
      const frameWindow = this.window;
      setTimeout(() => {
        frameWindow.dispatchEvent(new frameWindow.MessageEvent("message", { data: data }));
      }, 0);
    }

    terminate() {
      this.frame.remove();
      this.window = null;
    }
  }

  window.Worker = FrameWorker;
})();
