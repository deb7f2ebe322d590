import crawler.urls
def test_x(): pass
