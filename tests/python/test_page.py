"""The glass-box page in a real browser: headless Chromium driven by selenium.

It loads GET /, sends a message, waits for streamed tokens, and checks that each token is
coloured by its probability and that hovering one shows its top-5 alternatives. With
GLASSBOX_SCREENSHOT=path it also saves a screenshot (the book's picture).
"""
import os
import tempfile
import unittest

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["GLASSBOX_URL"]
KEY = os.environ["GLASSBOX_API_KEY"]


def browser(profile):
    o = webdriver.ChromeOptions()
    o.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1100,900", f"--user-data-dir={profile}"]:
        o.add_argument(flag)
    return webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=o)


class Page(unittest.TestCase):
    def test_tokens_with_alternatives(self):
        with tempfile.TemporaryDirectory() as profile:
            d = browser(profile)
            try:
                d.get(URL + "/")
                self.assertIn("glassbox", d.title)
                d.find_element(By.ID, "key").send_keys(KEY)
                for field, value in [("temperature", "0"), ("max_tokens", "40")]:
                    e = d.find_element(By.ID, field)
                    e.clear()
                    e.send_keys(value)
                d.find_element(By.ID, "input").send_keys("What is the capital of France? Answer in one sentence.")
                d.find_element(By.ID, "send").click()
                wait = WebDriverWait(d, 120)
                # streamed tokens arrive, then the stats line gets the usage chunk
                wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".msg.assistant .tok")) >= 5)
                wait.until(lambda d: "reused from the cache" in d.find_element(By.CSS_SELECTOR, ".msg.assistant .stats").text)
                toks = d.find_elements(By.CSS_SELECTOR, ".msg.assistant .tok")
                self.assertTrue(all(t.value_of_css_property("background-color") not in ("", "rgba(0, 0, 0, 0)") for t in toks))
                stats = d.find_element(By.CSS_SELECTOR, ".msg.assistant .stats").text
                self.assertIn("tokens", stats)
                self.assertIn("time to first token", stats)
                self.assertIn("tok/s", stats)
                # hover a token: its top-5 alternatives with probabilities
                ActionChains(d).move_to_element(toks[1]).perform()
                alts = d.find_element(By.ID, "alts")
                wait.until(lambda d: alts.is_displayed())
                rows = alts.find_elements(By.CSS_SELECTOR, "tr")
                self.assertEqual(len(rows), 5)
                self.assertTrue(all("%" in r.text for r in rows))
                self.assertEqual(len(alts.find_elements(By.CSS_SELECTOR, "tr.chosen")), 1)
                shot = os.environ.get("GLASSBOX_SCREENSHOT")
                if shot:
                    d.save_screenshot(shot)
            finally:
                d.quit()


if __name__ == "__main__":
    unittest.main()
