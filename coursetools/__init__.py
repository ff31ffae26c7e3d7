"""The course's tools for instructors and for checking the book (not part of
``cnnlib``).

Run each as a module from the repository root, e.g. ``.venv/bin/python -m
coursetools.release``:

- ``coursetools.release``: student notebooks, otter autograders and the grader's private
  key;
- ``coursetools.grade``: grade a folder of submissions, isolated from the submitted
  code;
- ``coursetools.check_book``: open every page of the built book in headless Chromium.
"""
